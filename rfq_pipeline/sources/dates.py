"""Posting dates as marketplaces print them, read into midnight UTC of the day shown.

One place for the day formats the sources use ("25 Apr, 2026" on EC21, "09 Aug 2026" on TradeKey, "Aug-17-26" on
go4WorldBusiness, "29 July 2026" on TradeIndia, "2026-08-09" and "2026.08.09" elsewhere), so that the parsers and
the fallback extractor agree on what a date is. Times of day, where a site prints them, are the parsers' business.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# "25 Apr, 2026", "09 Aug 2026", "29 July 2026", "14-Aug-2026", "1st March 2026"
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?[ \t\-]+({_MONTH})\.?,?[ \t\-]+(\d{{4}})\b", re.I)
# "Aug-17-26", "Jul 13, 2025", "August 17 2026"
MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?[ \t\-]+(\d{{1,2}}),?[ \t\-]+(\d{{4}}|\d{{2}})\b", re.I)
# "2026-08-09", "2026.08.09", "2026/8/9"
YEAR_MONTH_DAY = re.compile(r"\b(\d{4})([-./])(\d{1,2})\2(\d{1,2})\b")


def month_number(name: str) -> int | None:
    """1-12 for an English month name or its abbreviation ("Aug", "Sept", "August"), else ``None``."""
    lowered = name.strip().lower().rstrip(".").replace("sept", "sep")
    for number, full in enumerate(_MONTH_NAMES, start=1):
        if len(lowered) >= 3 and full.startswith(lowered):
            return number
    return None


def utc_day(year: int, month: int, day: int) -> datetime | None:
    """Midnight UTC of a calendar day, or ``None`` for an impossible one (31 Feb)."""
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None


def find_day(text: str) -> tuple[datetime, str] | None:
    """The first day written in ``text`` in any of the formats above, with the text that gave it."""
    candidates: list[tuple[int, datetime, str]] = []
    for match in DAY_MONTH_YEAR.finditer(text):
        month = month_number(match.group(2))
        value = utc_day(int(match.group(3)), month, int(match.group(1))) if month else None
        if value is not None:
            candidates.append((match.start(), value, match.group(0)))
            break
    for match in MONTH_DAY_YEAR.finditer(text):
        month = month_number(match.group(1))
        year = int(match.group(3))
        value = utc_day(year + 2000 if year < 100 else year, month, int(match.group(2))) if month else None
        if value is not None:
            candidates.append((match.start(), value, match.group(0)))
            break
    for match in YEAR_MONTH_DAY.finditer(text):
        value = utc_day(int(match.group(1)), int(match.group(3)), int(match.group(4)))
        if value is not None:
            candidates.append((match.start(), value, match.group(0)))
            break
    if not candidates:
        return None
    _, value, matched = min(candidates, key=lambda candidate: candidate[0])
    return value, matched


def parse_day(text: str) -> datetime | None:
    """The first day written in ``text`` as midnight UTC; ``None`` when there is none."""
    found = find_day(text)
    return found[0] if found else None


_RELATIVE_UNITS = {
    "sec": timedelta(seconds=1),
    "min": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    # Boards keep recent requests only; a month is taken as 30 days rather than dropping the date.
    "month": timedelta(days=30),
}
_RELATIVE = re.compile(
    r"\b(?P<n>\d+|an?|one)\s*(?P<unit>sec(?:ond)?|min(?:ute)?|hour|hr|day|week|month)s?(?:\(s\))?\s+(?:ago|before)\b"
    r"|\b(?P<word>just\s+now|now|today|yesterday)\b",
    re.IGNORECASE,
)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive time is taken as UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def relative_time(text: str, fetched_at: datetime) -> tuple[datetime, bool] | None:
    """A posting time written relative to the fetch: ``(instant, exact)``, or ``None`` when ``text`` has none.

    "Just now", "25 minutes before", "3 days ago", "an hour ago", "2 day(s) before" are measured back from
    ``fetched_at`` (``exact``); "today" and "yesterday" are the fetch time and a day before it, exact to the day only.
    """
    match = _RELATIVE.search(text)
    if match is None:
        return None
    now = as_utc(fetched_at)
    word = (match.group("word") or "").lower()
    if word:
        if word == "yesterday":
            return now - timedelta(days=1), False
        return now, word != "today"
    count = match.group("n").lower()
    number = int(count) if count.isdigit() else 1
    return now - number * _RELATIVE_UNITS[_unit_key(match.group("unit"))], True


def _unit_key(unit: str) -> str:
    lowered = unit.lower()
    return next(key for key in _RELATIVE_UNITS if lowered.startswith(key))
