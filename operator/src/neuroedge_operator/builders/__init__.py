"""Pure builders: desired Kubernetes manifests, SQL statements and Redis ACL rules from typed specs."""
