"""Engines: one module per kind behind the `Engine` protocol of `engines.base`."""
