"""Domain errors of the search service and the one place they map to HTTP statuses."""

from services.search.app.runtime import IndexNotReady
from shared.identity import InvalidIdentity
from shared.problems import DomainError, ProblemMap

PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
    IndexNotReady: 503,
}

__all__ = ["PROBLEM_STATUSES", "DomainError"]
