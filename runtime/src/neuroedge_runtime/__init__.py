"""NeuroEdge runtime: the API server (`api` mode) and job workers (`worker` mode) that tenants' apps call."""

__version__ = "0.1.0"
