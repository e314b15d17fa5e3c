"""OpenFeature Remote Evaluation Protocol: the client-visible flags, evaluated for one user.

Shapes follow OFREP's OpenAPI (open-feature/protocol ``service/openapi.yaml``): a success is
``{key, value, reason, variant, metadata}``, a failure ``{key, errorCode, errorDetails}``.
Only flags whose metadata says ``"clientVisible": true`` exist here; any other key is
``FLAG_NOT_FOUND``, exactly like an unknown one, so a client cannot learn server-side flags.
The context is the gateway's: the signed-in user's id as targeting key, plus their e-mail
domain and account age (profiles.py); a context the client sends is checked for shape and
otherwise not trusted.
"""

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason

from shared.flags import Flags
from shared.problems import DomainError

Result = dict[str, Any]
# The error codes OFREP's evaluationFailure allows; anything else is reported as GENERAL.
OFREP_ERROR_CODES = frozenset({"PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT"})


class InvalidContext(DomainError):
    """The request body is not an OFREP evaluation request."""


class FlagNotFound(DomainError):
    """No client-visible flag has this key."""


class FlagFailed(DomainError):
    """The flag exists but could not be evaluated (e.g. a rule the file got wrong)."""

    def __init__(self, detail: str, error_code: str) -> None:
        super().__init__(detail)
        self.error_code = error_code


def parse_request(body: bytes) -> Mapping[str, Any]:
    """The client's ``context`` object (may be empty); ``InvalidContext`` for anything else."""
    if not body.strip():
        return {}
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidContext("The body is not JSON.") from None
    if not isinstance(request, dict):
        raise InvalidContext("The body must be a JSON object.")
    context = request.get("context", {})
    if not isinstance(context, dict):
        raise InvalidContext("'context' must be a JSON object.")
    return context


def evaluate_flag(flags: Flags, key: str, *, context: EvaluationContext) -> Result:
    if key not in flags.client_visible():
        raise FlagNotFound(f"No flag '{key}'.")
    result = result_of(flags.evaluate(key, context))
    if "errorCode" in result:
        raise FlagFailed(result["errorDetails"], result["errorCode"])
    return result


def evaluate_all(flags: Flags, *, context: EvaluationContext) -> list[Result]:
    return [result_of(flags.evaluate(key, context)) for key in flags.client_visible()]


def result_of(details: FlagEvaluationDetails[Any]) -> Result:
    if details.error_code is not None:
        code = str(details.error_code.value)
        return {
            "key": details.flag_key,
            "errorCode": code if code in OFREP_ERROR_CODES else "GENERAL",
            "errorDetails": details.error_message or "The flag could not be evaluated.",
        }
    reason = details.reason.value if isinstance(details.reason, Reason) else details.reason
    result: Result = {"key": details.flag_key, "reason": reason or "UNKNOWN"}
    # A disabled flag has no value of its own: the client keeps its code default (OFREP ADR 6).
    if details.reason != Reason.DISABLED:
        result["value"] = details.value
    if details.variant is not None:
        result["variant"] = details.variant
    result["metadata"] = dict(details.flag_metadata)
    return result


def bulk_body(results: list[Result]) -> tuple[bytes, str]:
    """The bulk response body and its strong ETag (a digest of exactly those bytes)."""
    body = orjson.dumps({"flags": results})
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison against a list of tags, or ``*``."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)
