"""Taskstream auth service: users, sessions, rotating refresh tokens, API keys, JWKS."""
