"""The daily report on the seeded export day: quotes sent per day beside the leads, in the numbers and the chart."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import psycopg
from PIL import Image

from rfq_pipeline.reports.daily import SENT_COLOUR, daily_report, render_chart
from rfq_pipeline_tests.exports.conftest import DAY, NOW, Seeded, seeded  # noqa: F401 (fixture)

WIDTH, LEGEND = 900, 170


def _sent_pixels(png: bytes) -> int:
    """Pixels of the quotes-sent colour inside the plot (the legend's swatch is always drawn, so it is left out)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colour = tuple(int(SENT_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for x in range(WIDTH - LEGEND) for y in range(image.height) if image.getpixel((x, y)) == colour)


def test_quotes_sent_are_counted_on_the_day_they_first_left(seeded: Seeded) -> None:  # noqa: F811
    day = DAY.date()
    with psycopg.connect(seeded.url) as conn:
        report = daily_report(conn, day)
    # Lotion and argan oil were marked sent at 13:00 on the seeded day; the queued and edited drafts were not.
    assert report.sent == {day: 2} and report.totals()["quotes_sent"] == 2
    assert report.totals()["drafts"] == 4  # the leads side is unchanged
    assert report.sent_per_day()[-1] == {"day": day.isoformat(), "quotes_sent": 2}
    assert len(report.sent_per_day()) == 14 and report.sent_per_day()[0]["quotes_sent"] == 0

    next_day = day + timedelta(days=1)
    with psycopg.connect(seeded.url) as conn:
        # A quote mailed the next morning counts on that day, though its RFQ was posted the day before; a quote
        # mailed before it was marked sent counts once, on the mail's day.
        conn.execute("UPDATE quote_drafts SET state = 'sent', first_sent_at = %s WHERE id = %s",
                     (NOW + timedelta(hours=20), seeded.draft_ids["shampoo"]))  # fmt: skip
        conn.execute("UPDATE quote_drafts SET first_sent_at = %s WHERE id = %s",
                     (NOW - timedelta(hours=1), seeded.draft_ids["lotion"]))  # fmt: skip
        conn.commit()
        report = daily_report(conn, next_day)
        earlier = daily_report(conn, day)
    assert report.sent == {day: 2, next_day: 1} and report.totals()["quotes_sent"] == 3
    assert earlier.sent == {day: 2}  # the window ends with its day: the next morning's quote is not in it


def test_the_chart_draws_quotes_sent_beside_the_leads(seeded: Seeded) -> None:  # noqa: F811
    with psycopg.connect(seeded.url) as conn:
        report = daily_report(conn, DAY.date())
    png = render_chart(report)
    assert Image.open(io.BytesIO(png)).size == (900, 360)
    with_sent = _sent_pixels(png)
    assert with_sent > 0
    assert _sent_pixels(render_chart(replace(report, sent={}))) == 0
    # The bar's height follows the count on the leads' scale (six RFQs that day): four quotes, twice the bar.
    assert _sent_pixels(render_chart(replace(report, sent={DAY.date(): 4}))) > with_sent * 1.8
