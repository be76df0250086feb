"""A circuit breaker per source, persisted in PostgreSQL so every process and run sees the same state.

``threshold`` consecutive failed fetches open the breaker for ``cooldown_s``; after the cool-down exactly one
request (the half-open probe) is let through: success closes the breaker, failure opens it again. While it is open
the source's runs are skipped with the reason shown in the UI instead of hammering a site that is down or blocking
us. A probe that never reports back (its process died) is retried after another cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rfq_pipeline.db.database import Database
from rfq_pipeline.db.repository import ensure_source_health

BreakerState = Literal["closed", "open", "half_open"]

# One statement decides and transitions atomically: concurrent callers cannot both become the half-open probe.
ADMIT = """
UPDATE source_health SET
    breaker_state = CASE
        WHEN breaker_state = 'open' AND open_until <= clock_timestamp() THEN 'half_open'
        WHEN breaker_state = 'half_open'
             AND half_open_since <= clock_timestamp() - make_interval(secs => %(cooldown_s)s::float8) THEN 'half_open'
        ELSE breaker_state END,
    -- now() is fixed for the statement, so RETURNING can tell whether this call became the probe
    half_open_since = CASE
        WHEN breaker_state = 'open' AND open_until <= clock_timestamp() THEN now()
        WHEN breaker_state = 'half_open'
             AND half_open_since <= clock_timestamp() - make_interval(secs => %(cooldown_s)s::float8)
             THEN now()
        ELSE half_open_since END,
    updated_at = now()
WHERE source = %(source)s
RETURNING breaker_state, COALESCE(half_open_since = now(), false) AS probe, open_until, consecutive_failures, last_error
"""

RECORD_SUCCESS = """
UPDATE source_health SET
    breaker_state = 'closed',
    consecutive_failures = 0,
    open_until = NULL,
    half_open_since = NULL,
    last_success_at = clock_timestamp(),
    updated_at = now()
WHERE source = %(source)s
"""

RECORD_FAILURE = """
UPDATE source_health SET
    consecutive_failures = consecutive_failures + 1,
    last_failure_at = clock_timestamp(),
    last_error = %(error)s,
    breaker_state = CASE
        WHEN breaker_state = 'half_open' OR consecutive_failures + 1 >= %(threshold)s THEN 'open'
        ELSE breaker_state END,
    open_until = CASE
        WHEN breaker_state = 'half_open' OR consecutive_failures + 1 >= %(threshold)s
            THEN clock_timestamp() + make_interval(secs => %(cooldown_s)s::float8)
        ELSE open_until END,
    opened_count = opened_count + CASE
        WHEN breaker_state <> 'open' AND (breaker_state = 'half_open' OR consecutive_failures + 1 >= %(threshold)s)
            THEN 1 ELSE 0 END,
    half_open_since = NULL,
    updated_at = now()
WHERE source = %(source)s
RETURNING breaker_state, consecutive_failures, open_until
"""

READ_STATE = """
SELECT breaker_state, consecutive_failures, open_until, last_error, opened_count
FROM source_health WHERE source = %(source)s
"""

RESET = """
UPDATE source_health SET breaker_state = 'closed', consecutive_failures = 0, open_until = NULL,
    half_open_since = NULL, updated_at = now()
WHERE source = %(source)s
"""


@dataclass(frozen=True)
class Admission:
    """Whether a request may go out now, and why not when it may not."""

    allowed: bool
    probe: bool
    reason: str | None = None


@dataclass(frozen=True)
class BreakerStatus:
    """The breaker as stored."""

    state: BreakerState
    consecutive_failures: int
    open_until: datetime | None
    last_error: str | None
    opened_count: int

    def describe(self) -> str:
        """A sentence for logs and the UI."""
        if self.state == "closed":
            return f"closed ({self.consecutive_failures} consecutive failures)"
        until = self.open_until.isoformat(timespec="seconds") if self.open_until else "?"
        return f"{self.state} until {until} after {self.consecutive_failures} failures (last: {self.last_error})"


def breaker_status(db: Database, source: str) -> BreakerStatus | None:
    """The stored breaker of ``source`` without creating one (``None`` for a source never fetched)."""
    with db.connection() as conn:
        row = conn.execute(READ_STATE, {"source": source}).fetchone()
    return BreakerStatus(*row) if row else None


class CircuitBreaker:
    """The breaker of one source."""

    def __init__(self, db: Database, source: str, *, threshold: int = 5, cooldown_s: float = 900.0) -> None:
        self.db = db
        self.source = source
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        with db.connection() as conn:
            ensure_source_health(conn, source)

    def admit(self) -> Admission:
        """Ask to send one request: always yes when closed; one probe after the cool-down; otherwise no."""
        with self.db.connection() as conn:
            row = conn.execute(ADMIT, {"source": self.source, "cooldown_s": self.cooldown_s}).fetchone()
        assert row is not None
        state, probe, open_until, failures, last_error = row
        if state == "closed":
            return Admission(True, False)
        if state == "half_open" and probe:
            return Admission(True, True)
        until = open_until.isoformat(timespec="seconds") if open_until else "?"
        if state == "half_open":
            return Admission(False, False, f"circuit breaker half-open: a probe is in flight (open until {until})")
        return Admission(
            False, False, f"circuit breaker open until {until} after {failures} consecutive failures ({last_error})"
        )

    def record_success(self) -> None:
        """A request succeeded: close the breaker and reset the failure count."""
        with self.db.connection() as conn:
            conn.execute(RECORD_SUCCESS, {"source": self.source})

    def record_failure(self, error: str) -> BreakerState:
        """A request failed: count it and open the breaker at the threshold (or after a failed probe)."""
        with self.db.connection() as conn:
            row = conn.execute(
                RECORD_FAILURE,
                {
                    "source": self.source,
                    "error": error[:500],
                    "threshold": self.threshold,
                    "cooldown_s": self.cooldown_s,
                },
            ).fetchone()
        assert row is not None
        return row[0]

    def status(self) -> BreakerStatus:
        """The stored state."""
        status = breaker_status(self.db, self.source)
        assert status is not None  # the constructor made the row
        return status

    def reset(self) -> None:
        """Close the breaker by hand (an operator knows the site is back)."""
        with self.db.connection() as conn:
            conn.execute(RESET, {"source": self.source})
