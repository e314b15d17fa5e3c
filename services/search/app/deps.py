"""Typed FastAPI dependencies of the search service."""

from shared.identity import CurrentIdentity

__all__ = ["CurrentIdentity"]
