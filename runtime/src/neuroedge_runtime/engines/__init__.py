"""Engines: named async handlers that turn a JSON input into a JSON result."""
