"""A per-source rate limit shared by every process through PostgreSQL.

The limiter is a token bucket of ``capacity`` tokens in which every spent token comes back ``window_s`` seconds after
it was spent: at most ``capacity`` requests start in any window of ``window_s`` seconds, whichever process sends
them. It is implemented as reserved time slots: a request takes the earliest slot that keeps the window full at
most, records it, and sleeps until then. Requests are never refused (none is lost), they are served in the order
they asked (slots only move forward), and none starts before its slot (none early). A 429 pauses the source for its
``Retry-After`` and doubles the window for a while (``slow_down``).

Slot arithmetic uses the database clock, so hosts with skewed clocks still agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rfq_pipeline.db.database import Database
from rfq_pipeline.db.repository import ensure_source_health

# Two-key advisory lock: (namespace, hash of the source). The namespace keeps it apart from other advisory locks.
_LOCK_NAMESPACE = 7_310_420

RESERVE_SLOT = """
WITH limits AS (
    SELECT clock_timestamp() AS now,
           CASE WHEN h.slow_until > clock_timestamp() THEN 2 ELSE 1 END * %(window_s)s::float8 AS window_s,
           h.paused_until
    FROM source_health AS h
    WHERE h.source = %(source)s
),
recent AS (
    SELECT slot_at FROM rate_limit_slots WHERE source = %(source)s ORDER BY slot_at DESC LIMIT %(capacity)s
),
agg AS (
    SELECT max(slot_at) AS last_slot, min(slot_at) AS oldest_of_recent, count(*) AS n FROM recent
),
chosen AS (
    SELECT GREATEST(
               l.now,
               COALESCE(l.paused_until, l.now),
               COALESCE(a.last_slot, l.now),
               CASE WHEN a.n >= %(capacity)s THEN a.oldest_of_recent + make_interval(secs => l.window_s) ELSE l.now END
           ) AS slot_at,
           l.now,
           l.window_s
    FROM limits AS l CROSS JOIN agg AS a
)
INSERT INTO rate_limit_slots (source, slot_at)
SELECT %(source)s, slot_at FROM chosen
RETURNING slot_at, EXTRACT(EPOCH FROM slot_at - clock_timestamp())::float8 AS wait_s
"""

PRUNE_SLOTS = """
DELETE FROM rate_limit_slots
WHERE source = %(source)s AND slot_at < clock_timestamp() - make_interval(secs => 3 * %(window_s)s::float8)
"""

SLOW_DOWN = """
UPDATE source_health SET
    paused_until = GREATEST(COALESCE(paused_until, clock_timestamp()),
                            clock_timestamp() + make_interval(secs => %(pause_s)s::float8)),
    slow_until = clock_timestamp() + make_interval(secs => %(slow_s)s::float8),
    updated_at = now()
WHERE source = %(source)s
"""


@dataclass(frozen=True)
class RateLimit:
    """``capacity`` requests per ``window_s`` seconds."""

    capacity: int
    window_s: float

    @classmethod
    def per_minute(cls, rate_per_minute: float, burst: int) -> RateLimit:
        """The limit of a spec: ``burst`` requests at once, ``rate_per_minute`` on average."""
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate_per_minute must be positive and burst at least 1")
        return cls(capacity=burst, window_s=60.0 * burst / rate_per_minute)


class SharedRateLimiter:
    """Reserves request slots for one source in PostgreSQL; every process using the same database shares them."""

    def __init__(
        self,
        db: Database,
        source: str,
        limit: RateLimit,
        *,
        sleep: Callable[[float], None] = time.sleep,
        slow_for_s: float = 600.0,
    ) -> None:
        self.db = db
        self.source = source
        self.limit = limit
        self._sleep = sleep
        self._slow_for_s = slow_for_s
        self.waited_s = 0.0  # total time this limiter made its caller wait, for run metadata
        with db.connection() as conn:
            ensure_source_health(conn, source)

    def reserve(self) -> float:
        """Reserve the next slot and return how many seconds until it (0 when it is now)."""
        params = {"source": self.source, "capacity": self.limit.capacity, "window_s": self.limit.window_s}
        with self.db.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, self.source))
            conn.execute(PRUNE_SLOTS, params)
            row = conn.execute(RESERVE_SLOT, params).fetchone()
        assert row is not None
        return max(0.0, float(row[1]))

    def acquire(self) -> None:
        """Block until this request may be sent."""
        wait = self.reserve()
        if wait > 0:
            self.waited_s += wait
            self._sleep(wait)

    def slow_down(self, retry_after_s: float) -> None:
        """A 429: no request before ``retry_after_s`` from now, and a doubled window for a while."""
        with self.db.connection() as conn:
            conn.execute(
                SLOW_DOWN, {"source": self.source, "pause_s": max(0.0, retry_after_s), "slow_s": self._slow_for_s}
            )
