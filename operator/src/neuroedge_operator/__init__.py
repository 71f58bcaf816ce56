"""NeuroEdge operator: reconciles Tenant, Engine, WorkerPool and VectorIndex (group neuroedge.io)."""
