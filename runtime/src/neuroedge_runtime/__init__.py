"""NeuroEdge runtime: the API server (`api` mode) and job workers (`worker` mode) that tenants' apps call."""
