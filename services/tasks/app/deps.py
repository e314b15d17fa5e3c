"""Typed FastAPI dependencies of the tasks service."""

from shared.identity import CurrentIdentity

__all__ = ["CurrentIdentity"]
