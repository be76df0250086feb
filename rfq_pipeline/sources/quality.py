"""Drift detection: a parser that suddenly yields nothing, or stops filling a field it used to fill.

Sites change their markup without notice; the parser then keeps "working" while returning empty lists or rows
without a country. Comparing each crawl with the source's recent crawls catches that on the first bad run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import mean

MIN_BASELINE_CRAWLS = 3  # fewer crawls than this are not a baseline
MIN_BASELINE_ROWS = 3.0  # a source that usually finds fewer rows may legitimately find none
FILLED_BEFORE = 0.5  # a field filled on at least half the rows...
FILLED_NOW = 0.1  # ...and now on fewer than a tenth of them has been lost
MIN_ROWS_FOR_FIELDS = 5  # too few rows this time to judge field fill


def no_rows_finding(seen: int, baseline: Sequence[tuple[int, Mapping[str, float]]]) -> str | None:
    """A sentence when this crawl found nothing although recent crawls usually found rows, else ``None``."""
    if seen > 0 or len(baseline) < MIN_BASELINE_CRAWLS:
        return None
    usual = mean(rows for rows, _ in baseline)
    if usual < MIN_BASELINE_ROWS:
        return None
    return f"no rows this time; the last {len(baseline)} crawls found {usual:.1f} on average"


def lost_field_findings(
    seen: int, fill: Mapping[str, float], baseline: Sequence[tuple[int, Mapping[str, float]]]
) -> list[str]:
    """One sentence per field that used to be filled and now is (almost) always empty."""
    if seen < MIN_ROWS_FOR_FIELDS:
        return []
    findings = []
    for field in sorted(fill):
        history = [past[field] for rows, past in baseline if rows > 0 and field in past]
        if len(history) < MIN_BASELINE_CRAWLS:
            continue
        before = mean(history)
        if before >= FILLED_BEFORE and fill[field] < FILLED_NOW:
            findings.append(f"{field} filled on {fill[field]:.0%} of rows, was {before:.0%}")
    return findings
