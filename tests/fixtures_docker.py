"""Fixtures around a real Docker engine."""
