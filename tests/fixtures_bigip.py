"""Fixtures around the BIG-IP simulator."""
