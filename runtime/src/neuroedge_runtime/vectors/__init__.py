"""Vector indexes: request models, the registry, and the Qdrant and pgvector backends behind one service."""
