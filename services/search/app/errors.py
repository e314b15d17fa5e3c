"""Domain errors of the search service and the one place they map to HTTP statuses."""

from shared.identity import InvalidIdentity
from shared.problems import DomainError, ProblemMap

PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
    # IndexNotReady is a DependencyUnavailable: shared maps it to 503 with Retry-After.
}

__all__ = ["PROBLEM_STATUSES", "DomainError"]
