"""Taskstream search service: full-text projection of task events with a Redis cache invalidator."""
