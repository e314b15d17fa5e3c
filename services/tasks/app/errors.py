"""Domain errors of the tasks service and the one place they map to HTTP statuses."""

from shared.identity import InvalidIdentity
from shared.problems import DomainError, ProblemMap

PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
}

__all__ = ["PROBLEM_STATUSES", "DomainError"]
