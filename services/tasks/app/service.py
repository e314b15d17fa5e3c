"""Domain logic of the tasks service (no HTTP here)."""
