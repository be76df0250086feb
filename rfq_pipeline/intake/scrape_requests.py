"""Scrape requests from the operators' queue: ``{"source": "ec21", "date": "2026-11-20", "reason": "..."}``.

A valid request becomes a run of that source's partition; anything else is refused with a reason that goes with the
message to the dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime


class InvalidScrapeRequest(ValueError):
    """The message is not a scrape request this deployment can run; the text is the reason."""


@dataclass(frozen=True)
class ScrapeRequest:
    """One validated request: crawl ``source``'s partition ``day``."""

    source: str
    day: date
    reason: str

    @property
    def partition_key(self) -> str:
        """The daily partition to materialize."""
        return self.day.isoformat()


MAX_REASON = 500


def parse_scrape_request(
    body: str, *, known_sources: Iterable[str], first_day: date, today: date | None = None
) -> ScrapeRequest:
    """Validate one message body; raises :class:`InvalidScrapeRequest` with the reason."""
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise InvalidScrapeRequest(f"body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidScrapeRequest("body must be a JSON object with source, date and reason")
    unknown_fields = sorted(set(value) - {"source", "date", "reason"})
    if unknown_fields:
        raise InvalidScrapeRequest(f"unknown fields {unknown_fields}; expected source, date, reason")
    source = value.get("source")
    sources = sorted(known_sources)
    if not isinstance(source, str) or source not in sources:
        raise InvalidScrapeRequest(f"unknown source {source!r}; known: {', '.join(sources)}")
    raw_day = value.get("date")
    if not isinstance(raw_day, str):
        raise InvalidScrapeRequest("date must be a string YYYY-MM-DD")
    try:
        day = date.fromisoformat(raw_day)
    except ValueError as exc:
        raise InvalidScrapeRequest(f"date {raw_day!r} is not YYYY-MM-DD") from exc
    today = today or datetime.now(UTC).date()
    # Today is a partition (it is collected while it runs); tomorrow is not there yet.
    if day < first_day or day > today:
        raise InvalidScrapeRequest(f"date {day} is outside the partitions {first_day}..{today}")
    reason = value.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidScrapeRequest("reason must be a string")
    return ScrapeRequest(source=source, day=day, reason=reason[:MAX_REASON])


