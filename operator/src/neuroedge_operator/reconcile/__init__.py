"""What every kind's handler shares: the context (settings, clients, per-object locks), the binding to kopf,
the one reconcile wrapper and status publisher, and the observe/apply helpers for owned children.

Handlers sit above this layer and never import each other; this layer never imports a handler.
"""
