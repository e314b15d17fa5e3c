"""Domain logic of the auth service (no HTTP here)."""
