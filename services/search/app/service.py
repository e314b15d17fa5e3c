"""Domain logic of the search service (no HTTP here)."""
