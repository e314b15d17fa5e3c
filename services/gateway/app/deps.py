"""Typed FastAPI dependencies of the gateway service."""

from shared.identity import CurrentIdentity

__all__ = ["CurrentIdentity"]
