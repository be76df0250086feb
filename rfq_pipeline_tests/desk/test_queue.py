"""The queue: what waits for whom, filtered by source, industry, country and risk, with the follow-up clocks."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import psycopg
from flask.testing import FlaskClient

from rfq_pipeline.desk.queries import deadline
from rfq_pipeline.quotes import workflow
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import seed_draft


def _ids(client: FlaskClient, query: str = "") -> list[int]:
    page = client.get(f"/{query}").get_data(as_text=True)
    return [int(i) for i in re.findall(r'<tr class="draft-row[^"]*" data-draft-id="(\d+)"', page)]


def _row(client: FlaskClient, draft_id: int) -> str:
    page = client.get("/").get_data(as_text=True)
    match = re.search(rf'data-draft-id="{draft_id}">(.*?)</tr>', page, re.S)
    assert match, f"draft {draft_id} is not in the queue"
    return html.unescape(" ".join(match.group(1).split()))


def test_the_queue_filters_by_source_industry_country_and_risk(settings: Settings, rep: FlaskClient) -> None:
    now = datetime.now(UTC)
    uae = seed_draft(settings, "uae", ready_at=now - timedelta(hours=3))
    saudi = seed_draft(settings, "ksa", source="tradekey", country="Saudi Arabia", country_code="SA",
                       buyer_country="SA", risk="medium", ready_at=now - timedelta(hours=2))  # fmt: skip
    # The RFQ says Germany, the buyer is found in Austria: either country finds it.
    spa = seed_draft(settings, "spa", source="go4world", industry="home_garden", country="Germany",
                     country_code="DE", buyer_country="AT", risk="high", ready_at=now - timedelta(hours=1))  # fmt: skip

    assert _ids(rep) == [uae, saudi, spa]
    assert _ids(rep, "?source=tradekey") == [saudi]
    assert _ids(rep, "?industry=home_garden") == [spa]
    assert _ids(rep, "?industry=beauty_personal_care") == [uae, saudi]
    assert _ids(rep, "?country=sa") == [saudi]
    assert _ids(rep, "?country=DE") == _ids(rep, "?country=AT") == [spa]
    assert _ids(rep, "?risk=high") == [spa]
    assert _ids(rep, "?risk=low&source=alibaba_rfq") == [uae]
    assert _ids(rep, "?risk=high&source=alibaba_rfq") == []

    page = rep.get("/?risk=medium").get_data(as_text=True)
    options = dict(re.findall(r'<select id="filter-(\w+)" name="\w+">(.*?)</select>', page, re.S))
    assert re.findall(r'<option value="(\w+)"', options["source"]) == ["alibaba_rfq", "go4world", "tradekey"]
    assert re.findall(r'<option value="(\w+)"', options["country"]) == ["AE", "AT", "DE", "SA"]
    assert re.findall(r'<option value="(\w+)"', options["risk"]) == ["low", "medium", "high"]
    assert '<option value="medium" selected>' in options["risk"]


def test_a_row_shows_total_buyer_age_state_version_and_its_follow_up_clock(
    settings: Settings, rep: FlaskClient
) -> None:
    now = datetime.now(UTC)
    fresh = seed_draft(settings, "fresh", ready_at=now - timedelta(hours=21, minutes=10))
    late = seed_draft(settings, "late", ready_at=now - timedelta(hours=29, minutes=10))
    row = _row(rep, fresh)
    assert "Oasis Beauty Trading LLC" in row and "AED 39,700.00" in row and "queued" in row
    assert "21 h" in row and "24 h due in 3 h" in row
    assert "24 h overdue 5 h" in _row(rep, late)


def test_only_a_lead_sees_escalated_drafts_first(settings: Settings, rep: FlaskClient, lead: FlaskClient) -> None:
    now = datetime.now(UTC)
    waiting = seed_draft(settings, "waiting", ready_at=now - timedelta(hours=60))
    with psycopg.connect(str(settings.database_url)) as conn:
        workflow.set_state(conn, waiting, "clarifying", actor="test", now=now - timedelta(hours=59))
    escalated = seed_draft(settings, "escalated", ready_at=now - timedelta(hours=50, minutes=30))
    recent = seed_draft(settings, "recent", ready_at=now - timedelta(hours=1))
    assert _ids(rep) == [waiting, escalated, recent]  # oldest first
    assert _ids(lead) == [escalated, waiting, recent]
    assert "48 h overdue 2 h" in _row(lead, escalated)
    assert "awaiting buyer's answer" in _row(lead, waiting)


def test_approved_and_closed_drafts(settings: Settings, rep: FlaskClient) -> None:
    approved = seed_draft(settings, "approved")
    rejected = seed_draft(settings, "rejected")
    with psycopg.connect(str(settings.database_url)) as conn:
        workflow.set_state(conn, approved, "approved", actor="test", now=datetime.now(UTC))
        workflow.set_state(conn, rejected, "rejected", actor="test", now=datetime.now(UTC))
    assert _ids(rep) == [approved]
    assert "approved, not sent" in _row(rep, approved)
    assert _ids(rep, "?state=rejected") == [rejected]


def test_deadline_texts() -> None:
    ready = datetime(2026, 1, 1, tzinfo=UTC)
    assert deadline(ready, ready + timedelta(hours=1)).text == "due in 23 h"
    assert not deadline(ready, ready + timedelta(hours=1)).near
    soon = deadline(ready, ready + timedelta(hours=23, minutes=30))
    assert (soon.hours, soon.text, soon.near, soon.overdue) == (24, "due in 30 min", True, False)
    late = deadline(ready, ready + timedelta(hours=29))
    assert (late.hours, late.text, late.overdue, late.escalated) == (24, "overdue 5 h", True, False)
    closing = deadline(ready, ready + timedelta(hours=44))
    assert (closing.hours, closing.text) == (48, "due in 4 h")
    escalated = deadline(ready, ready + timedelta(hours=75))
    assert (escalated.text, escalated.escalated) == ("overdue 27 h", True)
