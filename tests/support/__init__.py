"""Helpers shared by integration tests (not fixtures: those live in conftest.py)."""
