"""The platform's PostgreSQL schema: versioned migrations (pure SQL) and the executor that applies them."""
