"""Engines: one module per kind behind the `Engine` protocol of `engines.base`, and `engines.registry`, the
single lookup both the API (synchronous `/engine/*`, and `/engine/run` checking a kind exists) and the queue
worker (jobs) resolve engines through."""
