"""Which failed runs to run again: those that failed because the Dagster instance's database went away.

Dagster's own run retries take runs whose worker crashed. A database outage during a step (PostgreSQL
restarted, the network to it down for longer than dagster-postgres's ~6 s of reconnects) is raised inside the
step, so Dagster counts it as the asset's failure and does not retry it (`retry_on_asset_or_op_failure` stays
off: a failed check or bad data would fail again). These failures are told apart by their error chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ops_pipelines import keys

# Errors of the instance storage, not of the data or our code: psycopg2/SQLAlchemy connection errors and
# dagster-postgres's own after its reconnects ran out.
STORAGE_ERRORS = frozenset({"DagsterPostgresException", "OperationalError", "InterfaceError"})
MAX_STORAGE_RETRIES = 2
RETRY_OF_TAG, ATTEMPT_TAG = keys.RETRY_OF, keys.STORAGE_RETRY


def error_chain(error: Any) -> list[tuple[str, str]]:
    """(class name, message) of an error and every cause and context behind it (Dagster's SerializableErrorInfo
    or anything shaped like it)."""
    found, todo, seen = [], [error], set()
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.append((str(getattr(current, "cls_name", "") or ""), str(getattr(current, "message", "") or "")))
        todo += [getattr(current, "cause", None), getattr(current, "context", None)]
    return found


def storage_outage(errors: Iterable[Any]) -> bool:
    """True when any of the errors (or what caused them) is the instance storage being unreachable."""
    return any(cls in STORAGE_ERRORS for error in errors for cls, _ in error_chain(error))


def retry_attempt(tags: dict[str, str]) -> int | None:
    """The storage-retry attempt number the next run would have, or None when the retries are used up."""
    attempt = int(tags.get(ATTEMPT_TAG, "0")) + 1
    return attempt if attempt <= MAX_STORAGE_RETRIES else None


def carried_tags(tags: dict[str, str]) -> dict[str, str]:
    """A failed run's own tags for its retry (Dagster's system tags are set again by Dagster)."""
    return {k: v for k, v in tags.items() if not k.startswith(("dagster/", ".dagster/"))}


def retry_request(run_id: str, tags: dict[str, str], errors: Iterable[Any],
                  dagster_retries: bool = False) -> dict[str, str] | None:
    """The tags of the retry a failed run should get, or None when it should get none from us: it failed for
    another reason, its retries are used up, or Dagster's run retries take it (`dagster/will_retry` is "true"
    until their retry is launched; Dagster turns it to "false" when the launch fails, e.g. while the code
    location is still unreachable after the outage: then it is ours).

    With Dagster's run retries on (`dagster_retries`), a failed run without `dagster/will_retry` is not decided
    yet: Dagster writes the run's FAILURE status and then, in a second write, that tag (or its retry daemon does),
    and a sensor tick between the two would retry a run Dagster's retries take too (seen: two retries of one run)."""
    if not storage_outage(errors) or tags.get("dagster/will_retry") == "true" or tags.get("dagster/auto_retry_run_id"):
        return None
    if dagster_retries and "dagster/will_retry" not in tags:
        return None  # looked at again on the next tick
    attempt = retry_attempt(tags)
    if attempt is None:
        return None
    return {**carried_tags(tags), RETRY_OF_TAG: run_id, ATTEMPT_TAG: str(attempt)}
