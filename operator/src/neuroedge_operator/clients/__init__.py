"""The only modules that talk to Kubernetes, PostgreSQL and Redis."""
