"""Taskstream gateway: the one public URL; token checks, rate limits, routing."""
