"""Typed FastAPI dependencies of the auth service."""

from shared.identity import CurrentIdentity

__all__ = ["CurrentIdentity"]
