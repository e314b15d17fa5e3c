"""Domain logic of the gateway service (no HTTP here)."""
