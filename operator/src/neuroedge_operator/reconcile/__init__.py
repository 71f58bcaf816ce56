"""What every kind's handler shares: the context (settings, clients, per-object locks in `locks`), the
binding to kopf, the one reconcile wrapper and status publisher (`status`), the tenant of a namespace
(`tenancy`), and the observe/apply helpers for the children of Engines and WorkerPools (`workloads`).

Handlers sit above this layer and never import each other; this layer never imports a handler.
"""
