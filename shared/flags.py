"""Feature flags: OpenFeature with flagd's in-process file provider (no flagd daemon).

Every service evaluates the flags of one flagd flag-definition file (``FLAGS_FILE``). The
provider's watcher thread polls the file's mtime every ``FLAGS_POLL_MS``; a file that does not
parse is refused as a whole (flagd builds the new flag set before swapping it in), logged once
per version of the file, and the last good flags keep serving. A missing or bad file at start
means every flag answers its code default until a good file appears.
"""

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import OpenFeatureError
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagResolutionDetails
from openfeature.provider.no_op_provider import NoOpProvider

from shared.settings import ServiceSettings

log = logging.getLogger("taskstream.flags")
CLIENT_VISIBLE = "clientVisible"
DEFAULT_FLAGS_FILE = "deploy/flags/flags.json"
ChangeListener = Callable[[frozenset[str]], None]


def evaluation_context(
    *,
    user_id: str,
    email: str | None = None,
    created_at: datetime | None = None,
    now: datetime | None = None,
) -> EvaluationContext:
    """The context flags are evaluated with: targeting key = user id, plus what is known.

    ``email_domain`` (lower case) and ``account_age_days`` are set only when the caller knows
    them; a rule on an absent attribute simply does not match.
    """
    attributes: dict[str, Any] = {}
    if email and "@" in email:
        attributes["email_domain"] = email.rsplit("@", 1)[1].lower()
    if created_at is not None:
        moment = now or datetime.now(UTC)
        attributes["account_age_days"] = max(0, (moment - created_at).days)
    return EvaluationContext(targeting_key=user_id, attributes=attributes)


@dataclass
class FileStatus:
    """What the watcher last did with the file; read by logs, metrics and tests."""

    loaded_mtime: float | None = None
    refused_mtime: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Flags:
    """One flag file, one OpenFeature domain, for the life of one app (lifespan-scoped).

    Each instance registers its provider under its own domain, so several apps in one
    process (tests) never share flags.
    """

    def __init__(self, path: str, *, poll_ms: int, domain: str) -> None:
        self.path = path
        self.domain = domain
        self.status = FileStatus()
        self._listeners: list[ChangeListener] = []
        self.provider = FlagdProvider(
            resolver_type=ResolverType.FILE,
            offline_flag_source_path=path,
            deadline_ms=poll_ms,
        )
        self.client: OpenFeatureClient = api.get_client(domain)

    def start(self) -> None:
        provider_log = logging.getLogger("openfeature.contrib")
        if WATCHER_ERRORS not in provider_log.filters:
            provider_log.addFilter(WATCHER_ERRORS)
        self.client.add_handler(ProviderEvent.PROVIDER_READY, self._on_loaded)
        self.client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, self._on_loaded)
        self.client.add_handler(ProviderEvent.PROVIDER_ERROR, self._on_refused)
        try:
            api.set_provider_and_wait(self.provider, domain=self.domain)
        except OpenFeatureError:
            # Logged by _on_refused; the watcher keeps polling and loads a good file later.
            log.warning("no usable flag file at start: %s", self.path)

    def close(self) -> None:
        # Replacing the provider shuts the flagd one down (its watcher thread ends).
        api.set_provider(NoOpProvider(), domain=self.domain)

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(changed flag keys)`` after each good reload (on the watcher thread)."""
        self._listeners.append(listener)

    def resolve_boolean(
        self, key: str, default: bool, context: EvaluationContext
    ) -> FlagResolutionDetails[bool]:
        """The hot-path evaluation: the provider directly, without the SDK's hook pipeline.

        The SDK's per-call hooks and context merging cost more than the rule itself
        (docs/decisions/0700-flag-evaluation-on-the-hot-path.md); errors become the default.
        """
        try:
            return self.provider.resolve_boolean_details(key, default, context)
        except OpenFeatureError as exc:
            return FlagResolutionDetails(default, error_code=exc.error_code)

    def evaluate(self, key: str, context: EvaluationContext) -> FlagEvaluationDetails[Any]:
        """Any flag through the OpenFeature client, typed by its default variant's value."""
        flag = self._served().get(key)
        default = flag.default[1] if flag is not None else None
        if isinstance(default, bool):
            return self.client.get_boolean_details(key, False, context)
        if isinstance(default, str):
            return self.client.get_string_details(key, "", context)
        if isinstance(default, int):
            return self.client.get_integer_details(key, 0, context)
        if isinstance(default, float):
            return self.client.get_float_details(key, 0.0, context)
        return self.client.get_object_details(key, {}, context)

    def client_visible(self) -> list[str]:
        """Keys of the flags a browser may see: metadata ``"clientVisible": true``."""
        served = self._served().items()
        return sorted(k for k, flag in served if (flag.metadata or {}).get(CLIENT_VISIBLE) is True)

    def _served(self) -> Mapping[str, Any]:
        """The flags of the last good file (flagd swaps the whole mapping on a reload)."""
        store = self.provider.resolver.evaluator._flag_store  # type: ignore[attr-defined]
        return dict(store.flags)

    def _on_loaded(self, details: EventDetails) -> None:
        with self.status.lock:
            self.status.loaded_mtime = _mtime(self.path)
            self.status.refused_mtime = None
        changed = frozenset(details.flags_changed or ())
        if changed:
            log.info("flags reloaded from %s", self.path, extra={"flags_changed": sorted(changed)})
        for listener in self._listeners:
            listener(changed)

    def _on_refused(self, details: EventDetails) -> None:
        mtime = _mtime(self.path)
        with self.status.lock:
            if mtime == self.status.refused_mtime:
                return  # the watcher retries each poll; one line per version of the file
            self.status.refused_mtime = mtime
            kept = self.status.loaded_mtime
        log.error(
            "flag file %s refused (%s); %s",
            self.path,
            details.message,
            "still serving the last good flags" if kept else "flags answer their code defaults",
            extra={"flags_file": self.path, "last_good_mtime": kept},
        )


@contextmanager
def open_flags(settings: ServiceSettings, *, domain: str) -> Iterator[Flags]:
    """The flags of ``FLAGS_FILE`` for one app's lifespan (``domain`` unique per app)."""
    flags = Flags(settings.flags_file, poll_ms=settings.flags_poll_ms, domain=domain)
    flags.start()
    try:
        yield flags
    finally:
        flags.close()


def _mtime(path: str) -> float | None:
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


class _WatcherErrors(logging.Filter):
    """flagd logs a traceback on every poll of a bad file; ``Flags`` logs one clear line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != "handle_error"


WATCHER_ERRORS = _WatcherErrors()
