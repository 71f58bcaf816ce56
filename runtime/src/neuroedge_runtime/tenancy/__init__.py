"""Which tenant a request belongs to: mounted credentials, the tenant registry, tenant-scoped transactions."""
