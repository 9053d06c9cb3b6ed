"""Fixtures around the BIG-IP adapter."""
