"""Slack review messages with signed desk buttons: a new draft posted by the drafts asset, the 24 h reminder and the
48 h escalation from the follow-up sensor, on the real database and a local webhook; the links in the buttons are
the desk's own single-use links."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.buyers import buyer_assets
from rfq_pipeline.assets.quotes import quote_assets
from rfq_pipeline.definitions import resources
from rfq_pipeline.desk.links import ALREADY_USED, FORGED_OR_EXPIRED, LinkError, consume_link, read_link
from rfq_pipeline.devtools.webhook_server import WebhookServerHandle, start_webhook_server
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy
from rfq_pipeline.quotes import store
from rfq_pipeline.quotes.dispatch import (
    LINK_TTL,
    SLACK_MAX_LINES,
    ReviewLinks,
    SlackWebhook,
    post_review,
    ready_to_approve,
    review_message,
    review_reasons,
)
from rfq_pipeline.sensors.quote_followups import quote_followups_sensor
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.assets.test_quote_assets import PARTITION, env, seeded  # noqa: F401 (fixtures)

DESK = "https://desk.example.test"
SECRET = "test-desk-secret-0123456789abcdefghij"
ASSETS = [*buyer_assets, *quote_assets]


@pytest.fixture()
def desk_env(env: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    """The seeded database, the desk's URL and key; no Slack webhook yet."""
    monkeypatch.setenv("RFQ_DESK_URL", DESK)
    monkeypatch.setenv("RFQ_DESK_SECRET_KEY", SECRET)
    return env


@pytest.fixture()
def hook() -> Iterator[WebhookServerHandle]:
    with start_webhook_server() as handle:
        yield handle


def _materialize() -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(ASSETS, partition_key=PARTITION, resources=resources, instance=instance)


def _tick() -> dg.SkipReason:
    with dg.instance_for_test() as instance, dg.build_sensor_context(instance=instance, resources=resources) as context:
        outcome = quote_followups_sensor(context)
    assert isinstance(outcome, dg.SkipReason)
    return outcome


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (actions,) = [block for block in message["blocks"] if block["type"] == "actions"]
    return {button["action_id"]: button for button in actions["elements"]}


def _signed(url: str) -> str:
    assert url.startswith(f"{DESK}/l/")
    return url.removeprefix(f"{DESK}/l/")


def _tokens(url: str) -> list[tuple[str, str, timedelta, datetime | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT action, purpose, expires_at - issued_at, used_at FROM desk_link_tokens ORDER BY purpose, action"
        ).fetchall()


def _draft(**overrides: Any) -> dict[str, Any]:
    """A stored draft as ``store.get_draft`` returns it, ready to approve unless overridden."""
    body = {
        "lines": [
            {"sku": "BC-SKN-0001", "name": "Shea Body Lotion 250ml", "quantity": 5000, "unit": "tube",
             "unit_price": "7.95", "total": "39750.00", "currency": "AED", "flags": [], "phrase": "shea lotion"},
        ],
        "guardrails": [{"name": "no_invented_prices", "passed": True, "failures": []}],
    }  # fmt: skip
    draft = {
        "id": 7, "rfq_id": 42, "state": "queued", "currency": "AED", "total": Decimal("39750.00"),
        "needs_review": False, "guardrails_passed": True, "risk_level": "low", "risk_score": 5,
        "buyer_company": "Oasis Beauty Trading LLC", "body": body,
    }  # fmt: skip
    draft.update(overrides)
    return draft


LINKS = ReviewLinks(f"{DESK}/l/open-token", f"{DESK}/l/approve-token", datetime(2025, 7, 16, 12, tzinfo=UTC))


# --- the message ---------------------------------------------------------------------------------------------------


def test_a_ready_draft_gets_an_approve_and_an_open_button() -> None:
    draft = _draft()
    assert ready_to_approve(draft) and review_reasons(draft) == []
    message = review_message(draft, "new_draft", LINKS)
    assert message["blocks"][0]["text"]["text"] == "New quote draft #7: ready to approve"
    assert "New quote draft #7 for Oasis Beauty Trading LLC (AED 39750.00)" in message["text"]
    buttons = _buttons(message)
    assert list(buttons) == ["approve", "open"]
    assert buttons["approve"]["url"] == LINKS.approve_url and buttons["approve"]["style"] == "primary"
    assert buttons["open"]["url"] == LINKS.open_url and "style" not in buttons["open"]
    assert all(b["type"] == "button" and b["text"]["type"] == "plain_text" for b in buttons.values())
    text = str(message)
    assert "BC-SKN-0001 Shea Body Lotion 250ml: 5,000 tube x AED 7.95 = AED 39750.00" in text
    assert "Needs review" not in text
    (context,) = [block for block in message["blocks"] if block["type"] == "context"]
    assert "works once and is valid for 72 hours (until 2025-07-16 12:00 UTC)" in context["elements"][0]["text"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"needs_review": True, "body": {"lines": [{"phrase": "unicorn glitter slime", "flags": ["unmatched"]}]}},
         "unicorn glitter slime: matches no catalog product"),
        ({"guardrails_passed": False,
          "body": {"guardrails": [{"name": "no_invented_prices", "passed": False, "failures": ["USD 0.01"]}]}},
         "cover text failed the guardrails (no_invented_prices)"),
        ({"risk_level": "high", "risk_score": 72}, "buyer risk is high (score 72)"),
        ({"needs_review": True, "body": {"clarification": {"reasons": ["no_quantity"], "question": "How many?"}}},
         "a question for the buyer is drafted (no quantity)"),
    ],
)  # fmt: skip
def test_a_draft_to_review_gets_only_an_open_button_and_says_why(overrides: dict[str, Any], reason: str) -> None:
    draft = _draft(**overrides)
    assert not ready_to_approve(draft)
    message = review_message(draft, "new_draft", ReviewLinks(LINKS.open_url, None, LINKS.expires_at))
    assert message["blocks"][0]["text"]["text"] == "New quote draft #7: needs review"
    assert list(_buttons(message)) == ["open"]
    (why,) = [
        b for b in message["blocks"] if b["type"] == "section" and "Needs review" in b.get("text", {}).get("text", "")
    ]
    assert f"• {reason}" in why["text"]["text"]


def test_only_a_draft_waiting_for_a_decision_is_approvable() -> None:
    assert [state for state in ("queued", "edited", "approved", "sent", "clarifying", "rejected")
            if ready_to_approve(_draft(state=state))] == ["queued", "edited"]  # fmt: skip


def test_buyer_text_cannot_ping_a_channel_or_fake_a_link() -> None:
    message = review_message(_draft(buyer_company="<!channel> <https://evil.example|Approve> & Co"), "reminder", LINKS)
    text = str(message)
    assert "<!channel>" not in text and "<https://evil.example" not in text
    assert "&lt;!channel&gt; &lt;https://evil.example|Approve&gt; &amp; Co" in text


def test_follow_ups_say_how_long_the_draft_waited_and_who_is_paged() -> None:
    reminder = review_message(_draft(), "reminder", LINKS)
    assert reminder["blocks"][0]["text"]["text"] == "Reminder: quote draft #7 has waited 24 hours"
    assert reminder["text"].startswith("Reminder: quote draft #7 for Oasis Beauty Trading LLC")
    escalation = review_message(_draft(), "escalation", LINKS)
    assert escalation["blocks"][0]["text"]["text"] == "Escalated to the sales lead: quote draft #7 has waited 48 hours"
    assert escalation["text"].startswith("ESCALATION to the sales lead: quote draft #7")
    assert list(_buttons(escalation)) == ["approve", "open"]
    with pytest.raises(ValueError, match="review purpose 'digest'"):
        review_message(_draft(), "digest", LINKS)


def test_many_lines_are_cut_and_links_stay_out_of_reprs() -> None:
    line = _draft()["body"]["lines"][0]
    many = review_message(_draft(body={"lines": [line] * (SLACK_MAX_LINES + 3)}), "new_draft", LINKS)
    assert "…and 3 more" in str(many)
    assert "token" not in repr(LINKS) and "approve=True" in repr(LINKS)


# --- new drafts, through the drafts asset --------------------------------------------------------------------------


def test_each_new_draft_is_posted_once_with_single_use_signed_links(
    desk_env: str, hook: WebhookServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RFQ_QUOTES_SLACK_WEBHOOK_URL", hook.url)
    before = datetime.now(UTC)
    result = _materialize()
    assert result.success
    metadata = result.asset_materializations_for_node("quotes__drafts")[0].metadata
    assert (metadata["slack_posted"].value, metadata["slack_failed"].value) == (1, 0)
    assert metadata["slack"].value == "on" and metadata["slack_failures"].value == {}

    (post,) = hook.received
    message = post.json
    assert message["blocks"][0]["text"]["text"] == "New quote draft #1: ready to approve"
    buttons = _buttons(message)
    assert _tokens(desk_env) == [("approve", "new_draft", LINK_TTL, None), ("open", "new_draft", LINK_TTL, None)]

    now = datetime.now(UTC)
    with psycopg.connect(desk_env) as conn:
        approve = read_link(conn, SECRET, _signed(buttons["approve"]["url"]), now=now)
        opened = read_link(conn, SECRET, _signed(buttons["open"]["url"]), now=now)
        assert (approve.draft_id, approve.action, approve.purpose) == (1, "approve", "new_draft")
        assert (opened.draft_id, opened.action) == (1, "open")
        assert before + LINK_TTL <= approve.expires_at <= now + LINK_TTL
        with pytest.raises(LinkError, match=FORGED_OR_EXPIRED):  # past its time, a link does not open
            read_link(conn, SECRET, _signed(buttons["approve"]["url"]), now=approve.expires_at + timedelta(seconds=1))
        with pytest.raises(LinkError, match=FORGED_OR_EXPIRED):  # signed with another key
            read_link(conn, SECRET.upper(), _signed(buttons["approve"]["url"]), now=now)
        consume_link(conn, approve, actor="desk:rep@seller.example", now=now)
        conn.commit()
        with pytest.raises(LinkError, match=ALREADY_USED):
            read_link(conn, SECRET, _signed(buttons["approve"]["url"]), now=now)

    again = _materialize()  # nothing new drafted: nothing posted again
    assert again.asset_materializations_for_node("quotes__drafts")[0].metadata["slack_posted"].value == 0
    assert len(hook.received) == 1


def test_a_failed_post_is_counted_and_the_drafts_are_kept(
    desk_env: str, hook: WebhookServerHandle, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RFQ_QUOTES_SLACK_WEBHOOK_URL", hook.url)
    hook.fail_next(1, 500)
    with caplog.at_level(logging.DEBUG):
        result = _materialize()
    assert result.success
    metadata = result.asset_materializations_for_node("quotes__drafts")[0].metadata
    assert (metadata["drafted_this_run"].value, metadata["slack_posted"].value, metadata["slack_failed"].value) == (
        1, 0, 1)  # fmt: skip
    detail = metadata["slack_failures"].value["1"]
    assert detail.startswith("HTTP 500")
    for text in (detail, caplog.text):
        assert hook.url not in text and hook.secret not in text and f"{DESK}/l/" not in text
    with psycopg.connect(desk_env) as conn:
        assert conn.execute("SELECT state FROM quote_drafts").fetchall() == [("queued",)]


def test_without_a_webhook_nothing_is_posted_or_minted(desk_env: str) -> None:
    result = _materialize()
    assert result.success
    metadata = result.asset_materializations_for_node("quotes__drafts")[0].metadata
    assert metadata["slack"].value.startswith("off") and metadata["slack_posted"].value == 0
    assert _tokens(desk_env) == []


def test_a_draft_to_review_gets_only_an_open_link(desk_env: str, hook: WebhookServerHandle) -> None:
    assert _materialize().success
    settings = Settings.from_env()
    client = HttpClient(policy=RetryPolicy(timeouts_s=(5.0,), backoff_s=()))
    try:
        with psycopg.connect(desk_env) as conn:
            conn.execute("UPDATE buyers SET risk_level = 'high', risk_score = 80")
            conn.commit()
            draft = store.get_draft(conn, 1)
            assert draft is not None
            result = post_review(conn, settings, SlackWebhook(hook.url, client), draft, "new_draft",
                                 now=datetime.now(UTC))  # fmt: skip
    finally:
        client.close()
    assert result.delivered
    (post,) = hook.received
    assert list(_buttons(post.json)) == ["open"] and "buyer risk is high (score 80)" in str(post.json)
    assert _tokens(desk_env) == [("open", "new_draft", LINK_TTL, None)]


# --- follow-ups, through the sensor --------------------------------------------------------------------------------


def test_reminder_and_escalation_carry_buttons_and_are_marked_only_once_delivered(
    desk_env: str, hook: WebhookServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _materialize().success  # no webhook yet: the new draft is not posted
    with psycopg.connect(desk_env) as conn:
        conn.execute("UPDATE quote_drafts SET ready_at = %s", (datetime.now(UTC) - timedelta(hours=49),))
    monkeypatch.setenv("RFQ_QUOTES_SLACK_WEBHOOK_URL", hook.url)

    hook.fail_next(2, 503)
    assert _tick().skip_message == "expired 0, sent 0 follow-ups, 2 not delivered"
    with psycopg.connect(desk_env) as conn:
        assert conn.execute("SELECT notified FROM quote_drafts").fetchone() == ([],)

    assert _tick().skip_message == "expired 0, sent 2 follow-ups, 0 not delivered"
    assert _tick().skip_message == "expired 0, sent 0 follow-ups, 0 not delivered"
    reminder, escalation = (post.json for post in hook.received[2:])
    assert reminder["blocks"][0]["text"]["text"] == "Reminder: quote draft #1 has waited 24 hours"
    assert escalation["blocks"][0]["text"]["text"] == "Escalated to the sales lead: quote draft #1 has waited 48 hours"
    assert len(hook.received) == 4
    with psycopg.connect(desk_env) as conn:
        assert conn.execute("SELECT notified FROM quote_drafts").fetchone() == (["reminder", "escalation"],)
        for message, purpose in ((reminder, "reminder"), (escalation, "escalation")):
            buttons = _buttons(message)
            assert list(buttons) == ["approve", "open"]
            link = read_link(conn, SECRET, _signed(buttons["approve"]["url"]), now=datetime.now(UTC))
            assert (link.draft_id, link.action, link.purpose) == (1, "approve", purpose)
        # The undelivered tick's links were minted too; nobody saw them, and they expire unused.
        assert conn.execute(
            "SELECT purpose, count(*), count(used_at) FROM desk_link_tokens GROUP BY purpose ORDER BY purpose"
        ).fetchall() == [("escalation", 4, 0), ("reminder", 4, 0)]
