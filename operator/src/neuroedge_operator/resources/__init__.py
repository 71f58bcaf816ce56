"""Typed models of our custom resources, parsed from raw Kubernetes bodies at the edge (handlers)."""
