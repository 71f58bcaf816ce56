"""Authentication and authorisation: passwords, access tokens, refresh tokens, roles."""
