"""Pure builders: manifests, SQL statements, collection configs (no I/O)."""
