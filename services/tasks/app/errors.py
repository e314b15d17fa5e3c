"""Domain errors of the tasks service and the one place they map to HTTP statuses."""

from shared.identity import InvalidIdentity
from shared.problems import DependencyUnavailable, DomainError, ProblemMap


class TaskNotFound(DomainError):
    """No such task for this user; another user's task is reported the same way."""


class VersionMismatch(DomainError):
    """The client's ``If-Match`` names a version that is no longer current."""


class ConcurrentUpdate(DomainError):
    """Other writers kept changing the task while this change was being applied."""


class InvalidCursor(DomainError):
    """A list cursor that is malformed, tampered with or made for another query."""


class ConflictingPaging(DomainError):
    """Both ``cursor`` and ``page`` were given; a list is paged one way or the other."""


class UnsupportedPatchType(DomainError):
    """A PATCH body in a media type other than merge patch or JSON."""


class LiveEventsUnavailable(DependencyUnavailable):
    """This replica has not reached the event topic yet (mapped to 503 + Retry-After)."""


PROBLEM_STATUSES: ProblemMap = {
    InvalidIdentity: 401,
    TaskNotFound: 404,
    VersionMismatch: 412,
    ConcurrentUpdate: 409,
    InvalidCursor: 400,
    ConflictingPaging: 400,
    UnsupportedPatchType: 415,
}
