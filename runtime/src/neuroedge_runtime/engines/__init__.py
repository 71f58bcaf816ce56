"""Engines: one module per kind behind the `Engine` protocol of `engines.base` (the API's synchronous
endpoints), and the named async job handlers of `engines.registry` that workers execute."""
