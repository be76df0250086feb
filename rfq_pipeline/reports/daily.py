"""The daily report: leads per source per day, the relevance mix, the duplicate rate and the quotes sent over the
last two weeks, as rows for a table and as a PNG bar chart (Pillow, no plotting stack needed).

The numbers come from the system of record in two queries (leads by posting day, quotes by the day they were first
sent); the report knows nothing of Dagster.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from PIL import Image, ImageDraw, ImageFont

WINDOW_DAYS = 14

# Per source and posting day: RFQs, relevant ones (the label that counts, see effective_labels), duplicates (joined
# an earlier request's cluster), and drafts made for them.
SELECT_DAILY = """
WITH day_rfqs AS (
    SELECT r.id, r.source, (COALESCE(r.posted_at, r.first_seen_at) AT TIME ZONE 'UTC')::date AS day
    FROM rfqs r
    WHERE COALESCE(r.posted_at, r.first_seen_at) >= %(start)s AND COALESCE(r.posted_at, r.first_seen_at) < %(end)s
), latest AS (
    SELECT e.rfq_id, e.relevant FROM effective_labels(ARRAY(SELECT id FROM day_rfqs)) e
)
SELECT d.day, d.source, count(*) AS rfqs,
       count(*) FILTER (WHERE l.relevant) AS relevant,
       count(*) FILTER (WHERE m.matched_by IS NOT NULL AND m.matched_by <> 'new') AS duplicates,
       count(DISTINCT q.id) AS drafts
FROM day_rfqs d
LEFT JOIN latest l ON l.rfq_id = d.id
LEFT JOIN dedup_cluster_members m ON m.rfq_id = d.id
LEFT JOIN quote_drafts q ON q.rfq_id = d.id
GROUP BY d.day, d.source
ORDER BY d.day, d.source
"""


# Quotes by the day they first went out: the earlier of first_sent_at (the quote mail left) and the draft's first move
# to 'sent' (marked sent by hand, e.g. answered on a marketplace). A day is when the quote left, whatever day the RFQ
# was posted, so the bars show the desk's output rather than a second view of the leads.
SELECT_SENT = """
SELECT (s.first_sent_at AT TIME ZONE 'UTC')::date AS day, count(*) AS sent
FROM (
    SELECT LEAST(q.first_sent_at, (SELECT min(e.at) FROM quote_draft_events e
                                   WHERE e.draft_id = q.id AND e.action = 'state' AND e.to_state = 'sent'))
           AS first_sent_at
    FROM quote_drafts q
) s
WHERE s.first_sent_at >= %(start)s AND s.first_sent_at < %(end)s
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True)
class DailyRow:
    """One source on one day."""

    day: date
    source: str
    rfqs: int
    relevant: int
    duplicates: int
    drafts: int


@dataclass(frozen=True)
class DailyReport:
    """The window's rows and its totals."""

    start: date
    end: date  # exclusive
    rows: list[DailyRow]
    sent: dict[date, int] = field(default_factory=dict)  # quotes first sent per day (days without any are absent)

    @property
    def days(self) -> list[date]:
        """Every day of the window, oldest first."""
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days)]

    @property
    def sources(self) -> list[str]:
        """Sources with at least one RFQ in the window, by volume."""
        volume: dict[str, int] = defaultdict(int)
        for row in self.rows:
            volume[row.source] += row.rfqs
        return sorted(volume, key=lambda s: (-volume[s], s))

    def totals(self) -> dict[str, Any]:
        """Window totals: RFQs, relevant share and duplicate rate."""
        rfqs = sum(r.rfqs for r in self.rows)
        relevant = sum(r.relevant for r in self.rows)
        duplicates = sum(r.duplicates for r in self.rows)
        return {
            "rfqs": rfqs,
            "relevant": relevant,
            "relevant_share": round(relevant / rfqs, 4) if rfqs else 0.0,
            "duplicates": duplicates,
            "duplicate_rate": round(duplicates / rfqs, 4) if rfqs else 0.0,
            "drafts": sum(r.drafts for r in self.rows),
            "quotes_sent": sum(self.sent.values()),
        }

    def sent_per_day(self) -> list[dict[str, Any]]:
        """One row per day of the window: the quotes first sent that day (zero included)."""
        return [{"day": day.isoformat(), "quotes_sent": self.sent.get(day, 0)} for day in self.days]

    def by_source(self) -> list[dict[str, Any]]:
        """One row per source: RFQs, relevant share, duplicate rate, drafts."""
        out = []
        for source in self.sources:
            rows = [r for r in self.rows if r.source == source]
            rfqs = sum(r.rfqs for r in rows)
            out.append(
                {
                    "source": source,
                    "rfqs": rfqs,
                    "relevant": f"{sum(r.relevant for r in rows) / rfqs:.0%}",
                    "duplicate_rate": f"{sum(r.duplicates for r in rows) / rfqs:.0%}",
                    "drafts": sum(r.drafts for r in rows),
                }
            )
        return out


def daily_report(conn: psycopg.Connection, day: date, window_days: int = WINDOW_DAYS) -> DailyReport:
    """The report for the ``window_days`` days ending with ``day`` (inclusive)."""
    from datetime import UTC

    start = day - timedelta(days=window_days - 1)
    end = day + timedelta(days=1)
    params = {
        "start": datetime(start.year, start.month, start.day, tzinfo=UTC),
        "end": datetime(end.year, end.month, end.day, tzinfo=UTC),
    }
    rows = [DailyRow(*row) for row in conn.execute(SELECT_DAILY, params).fetchall()]
    sent = {day: int(count) for day, count in conn.execute(SELECT_SENT, params).fetchall()}
    return DailyReport(start, end, rows, sent)


# A qualitative palette readable on white, one colour per source (the 11th source reuses the first); the quotes-sent
# bar is a dark colour no source gets.
_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
            "#bab0ac")  # fmt: skip
SENT_COLOUR = "#1b3a2f"


def render_chart(report: DailyReport, *, width: int = 900, height: int = 360) -> bytes:
    """A stacked bar chart of RFQs per source per day, with the relevant count marked per day and, beside each day's
    bar, a narrow bar of the quotes sent that day; PNG bytes."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = 48, 170, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    days, sources = report.days, report.sources
    counts: dict[tuple[date, str], int] = {(r.day, r.source): r.rfqs for r in report.rows}
    relevant: dict[date, int] = defaultdict(int)
    for row in report.rows:
        relevant[row.day] += row.relevant
    peak = max([sum(counts.get((d, s), 0) for s in sources) for d in days] + list(report.sent.values()) + [1])
    title = "RFQs per source per day (black tick: relevant) and quotes sent (narrow dark bar)"
    draw.text((left, 4), title, fill="black", font=font)
    draw.line((left, top, left, top + plot_h, left + plot_w, top + plot_h), fill="black")
    for fraction in (0.5, 1.0):
        y = top + plot_h - plot_h * fraction
        draw.line((left - 4, y, left, y), fill="black")
        draw.text((4, y - 6), f"{round(peak * fraction)}", fill="black", font=font)
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.55, 1)
    sent_bar = max(slot * 0.2, 1)
    for index, day in enumerate(days):
        x0 = left + index * slot + (slot - bar - sent_bar) / 2
        y = top + plot_h
        for n, source in enumerate(sources):
            value = counts.get((day, source), 0)
            if value:
                h = plot_h * value / peak
                draw.rectangle((x0, y - h, x0 + bar, y), fill=_PALETTE[n % len(_PALETTE)])
                y -= h
        if relevant[day]:
            ry = top + plot_h - plot_h * relevant[day] / peak
            draw.line((x0 - 2, ry, x0 + bar + 2, ry), fill="black", width=2)
        if report.sent.get(day):
            sx = x0 + bar + 1
            draw.rectangle((sx, top + plot_h - plot_h * report.sent[day] / peak, sx + sent_bar, top + plot_h),
                           fill=SENT_COLOUR)  # fmt: skip
        if index % max(1, len(days) // 7) == 0 or index == len(days) - 1:
            draw.text((x0, top + plot_h + 6), day.strftime("%m-%d"), fill="black", font=font)
    legend = [(source[:22], _PALETTE[n % len(_PALETTE)]) for n, source in enumerate(sources[:13])]
    for n, (label, colour) in enumerate([*legend, ("quotes sent", SENT_COLOUR)]):
        y = top + n * 16
        draw.rectangle((width - right + 12, y + 2, width - right + 22, y + 12), fill=colour)
        draw.text((width - right + 28, y), label, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
