"""Posting dates as marketplaces print them, read into midnight UTC of the day shown.

One place for the day formats the sources use ("25 Apr, 2026" on EC21, "09 Aug 2026" on TradeKey, "Aug-17-26" on
go4WorldBusiness, "29 July 2026" on TradeIndia, "2026-08-09" and "2026.08.09" elsewhere), so that the parsers and
the fallback extractor agree on what a date is. Times of day, where a site prints them, are the parsers' business.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
