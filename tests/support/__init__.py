"""What the system-level tests share, one module per concern.

``problems``: the one strict check of an RFC 9457 answer. ``polling``: waiting on a condition.
``secrets``: every secret a test handled, for the session's no-secrets-in-logs check.
``accounts``: registered, logged-in users. ``identities``: calls signed as the gateway would.
``processes``: extra replicas a test started and retired. ``logs``: this session's log lines
and the checks ``tests/integration/conftest.py`` runs on them when the session ends.
``tasks``, ``search``, ``write_stream``: the tasks service and its topic, the search service,
and a counted stream of writes for the fault tests.
"""
