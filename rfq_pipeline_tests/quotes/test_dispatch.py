from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.devtools.hubspot_server import HubSpotServerHandle, start_hubspot_server
from rfq_pipeline.devtools.webhook_server import WebhookServerHandle, start_webhook_server
from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy
from rfq_pipeline.quotes.catalog import load_catalog, load_rates
from rfq_pipeline.quotes.dispatch import (
    SHEET_COLUMNS,
    CsvSheet,
    DispatchItem,
    DispatchResult,
    HubSpot,
    SlackWebhook,
    dispatch_all,
    dispatchers_from_settings,
)
from rfq_pipeline.quotes.pdf import pdf_text, render_quote_pdf
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore

ISSUED = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def draft() -> dict:
    rfq = RfqText(
        "rfq-42",
        "Private label skin care for Dubai retail chain",
        "Please quote:\n- 5,000 tubes of shea body lotion 250ml\n- 2,000 bottles vitamin C serum 30ml\n"
        "- 1,000 units unicorn glitter slime\n",
        country="United Arab Emirates",
    )
    from rfq_pipeline.quotes.draft import draft_quote

    return draft_quote(rfq, load_catalog(), load_rates(), incoterm="CIF").as_json()


@pytest.fixture
def item(draft: dict, tmp_path: Path) -> DispatchItem:
    pdfs = LocalObjectStore(tmp_path / "quote_pdfs")
    uri = pdfs.put("quotes/501/quote-501-approved.pdf", render_quote_pdf(draft, draft_id=501, issued_at=ISSUED))
    assert "BC-SKN-0001" in pdf_text(pdfs.get("quotes/501/quote-501-approved.pdf"))
    return DispatchItem.from_draft(
        draft, draft_id=501, pdf_uri=uri, buyer_company="Al Noor <Trading> & Co", buyer_email="buy@alnoor.example"
    )


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(policy=RetryPolicy(timeouts_s=(5.0,), backoff_s=()))
    yield http
    http.close()


@pytest.fixture
def webhook() -> Iterator[WebhookServerHandle]:
    with start_webhook_server() as handle:
        yield handle


@pytest.fixture(scope="module")
def hubspot() -> Iterator[HubSpotServerHandle]:
    with start_hubspot_server() as handle:
        yield handle


@pytest.fixture(autouse=True)
def _fresh_hubspot(hubspot: HubSpotServerHandle) -> None:
    hubspot.reset()


# --- Slack ---------------------------------------------------------------------------------------------------------


def test_slack_message_reaches_the_webhook(item: DispatchItem, webhook: WebhookServerHandle, client: HttpClient):
    result = SlackWebhook(webhook.url, client).send(item)
    assert result == DispatchResult("slack", True, None, "posted to Slack (HTTP 200)")
    (post,) = webhook.received
    assert post.headers["content-type"] == "application/json"
    message = post.json
    assert "Quote #501 approved" in message["text"] and f"AED {item.total}" in message["text"]
    assert message["blocks"][0]["text"]["text"] == "Quote #501 approved"
    fields = " ".join(f["text"] for f in message["blocks"][1]["fields"])
    # Buyer text is escaped for mrkdwn, so it cannot mention a channel or fake a link.
    assert "Al Noor &lt;Trading&gt; &amp; Co" in fields and "<Trading>" not in str(message)
    assert item.pdf_uri in fields and "buy@alnoor.example" in fields
    assert "BC-SKN-0001" in message["blocks"][2]["text"]["text"]


def test_slack_failure_hides_the_url(
    item: DispatchItem, webhook: WebhookServerHandle, client: HttpClient, caplog: pytest.LogCaptureFixture
):
    slack = SlackWebhook(webhook.url, client)
    webhook.fail_next(1, 500)
    with caplog.at_level(logging.DEBUG):
        (result,) = dispatch_all(item, [slack])
    assert not result.delivered and result.channel == "slack"
    assert "HTTP 500" in result.detail and "rollup_error" in result.detail
    for text in (result.detail, repr(result), repr(slack), caplog.text):
        assert webhook.url not in text and webhook.secret not in text
    assert "not delivered" in caplog.text
    webhook.respond_with(404, "no_service")
    assert "HTTP 404: no_service" in slack.send(item).detail


def test_slack_unreachable_hides_the_url(item: DispatchItem, client: HttpClient):
    with start_webhook_server() as gone:
        url, secret = gone.url, gone.secret
    result = SlackWebhook(url, client).send(item)
    assert not result.delivered and result.detail.startswith("network_error")
    assert url not in result.detail and secret not in result.detail
    with pytest.raises(ValueError) as error:
        SlackWebhook("hooks.slack.com/services/T0/B0/" + secret, client)
    assert secret not in str(error.value)


# --- HubSpot -------------------------------------------------------------------------------------------------------


def test_hubspot_creates_a_deal(item: DispatchItem, hubspot: HubSpotServerHandle, client: HttpClient):
    result = HubSpot(hubspot.token, client, hubspot.url).send(item)
    assert result.delivered and result.channel == "hubspot" and result.external_id
    deal = hubspot.deals[result.external_id]["properties"]
    assert deal["amount"] == str(item.total) and Decimal(deal["amount"]) == item.total
    assert deal["deal_currency_code"] == "AED"
    assert deal["pipeline"] == "default" and deal["dealstage"] == "appointmentscheduled"
    assert deal["dealname"] == "Quote #501 - Al Noor <Trading> & Co"
    assert item.pdf_uri in deal["description"] and "BC-SKN-0001" in deal["description"]
    (call,) = hubspot.request_log
    assert (call.method, call.path, call.status) == ("POST", "/crm/v3/objects/deals", 201)
    assert call.authorization == f"Bearer {hubspot.token}"
    # The deal can be read back through the API as the CRM would show it.
    read = client.get(
        f"{hubspot.url}/crm/v3/objects/deals/{result.external_id}", headers={"Authorization": f"Bearer {hubspot.token}"}
    )
    assert read.ok and f'"id": "{result.external_id}"' in read.text
    missing = client.get(
        f"{hubspot.url}/crm/v3/objects/deals/999999", headers={"Authorization": f"Bearer {hubspot.token}"}
    )
    assert missing.status == 404 and "OBJECT_NOT_FOUND" in missing.text


def test_hubspot_without_total_sends_no_amount(item: DispatchItem, hubspot: HubSpotServerHandle, client: HttpClient):
    result = HubSpot(hubspot.token, client, hubspot.url).send(replace(item, total=None, lines=()))
    assert result.delivered
    assert "amount" not in hubspot.deals[str(result.external_id)]["properties"]


def test_hubspot_wrong_token(item: DispatchItem, hubspot: HubSpotServerHandle, client: HttpClient):
    token = "pat-na1-wrong-0000-secret-token"
    adapter = HubSpot(token, client, hubspot.url)
    (result,) = dispatch_all(item, [adapter])
    assert not result.delivered and result.external_id is None
    assert result.detail.startswith("HTTP 401 INVALID_AUTHENTICATION: Authentication credentials not found")
    for text in (result.detail, repr(result), repr(adapter)):
        assert token not in text
    assert hubspot.deals == {}


def test_hubspot_server_error_is_reported_not_retried(
    item: DispatchItem, hubspot: HubSpotServerHandle, client: HttpClient
):
    hubspot.fail_next(1, 500)
    result = HubSpot(hubspot.token, client, hubspot.url).send(item)
    assert not result.delivered and result.detail == "HTTP 500 INTERNAL_ERROR: internal error"
    assert len(hubspot.request_log) == 1 and hubspot.deals == {}  # a 5xx may have landed: never posted twice


def test_hubspot_rate_limit_waits_and_retries(item: DispatchItem, hubspot: HubSpotServerHandle, client: HttpClient):
    waits: list[float] = []
    adapter = HubSpot(hubspot.token, client, hubspot.url, sleep=waits.append)
    hubspot.fail_next(1, 429, retry_after="2")
    hubspot.fail_next(1, 429)
    result = adapter.send(item)
    assert result.delivered and waits == [2.0, 1.0]
    assert [c.status for c in hubspot.request_log] == [429, 429, 201] and len(hubspot.deals) == 1
    hubspot.fail_next(3, 429)
    limited = adapter.send(item)
    assert not limited.delivered and "HTTP 429 RATE_LIMIT" in limited.detail and "after 3 attempts" in limited.detail


def test_hubspot_server_validates_deals(hubspot: HubSpotServerHandle, client: HttpClient):
    url, auth = f"{hubspot.url}/crm/v3/objects/deals", {"Authorization": f"Bearer {hubspot.token}"}
    missing = client.post(url, json_body={"properties": {"amount": "10"}}, headers=auth)
    assert missing.status == 400 and '"category": "VALIDATION_ERROR"' in missing.text and "dealname" in missing.text
    unknown = client.post(url, json_body={"properties": {"dealname": "x", "colour": "red"}}, headers=auth)
    assert unknown.status == 400 and "PROPERTY_DOESNT_EXIST" in unknown.text
    created = client.post(url, json_body={"properties": {"dealname": "x"}}, headers=auth)
    assert created.status == 201 and '"createdAt"' in created.text
    assert [call.status for call in hubspot.request_log] == [400, 400, 201]


# --- CSV sheet -----------------------------------------------------------------------------------------------------


def _sheet(store: LocalObjectStore, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(store.get(key).decode("utf-8-sig"))))


def test_csv_sheet_is_idempotent_per_draft(item: DispatchItem, tmp_path: Path):
    store = LocalObjectStore(tmp_path / "exports")
    times = iter([ISSUED, ISSUED + timedelta(hours=1), ISSUED + timedelta(hours=2), ISSUED + timedelta(hours=3)])
    sheet = CsvSheet(store, clock=lambda: next(times))
    first = sheet.send(item)
    assert first.delivered and first.external_id == store.uri(sheet.key) and "row added" in first.detail
    other = replace(item, draft_id=502, buyer_company='=HYPERLINK("http://evil")', total=Decimal("10.00"))
    assert "row added (2 rows)" in sheet.send(other).detail
    again = sheet.send(replace(item, total=Decimal("99.50")))
    assert again.delivered and "row replaced (2 rows)" in again.detail
    raw = store.get(sheet.key).decode("utf-8-sig")
    assert raw.splitlines()[0] == ",".join(SHEET_COLUMNS)
    rows = _sheet(store, sheet.key)
    assert [row["draft_id"] for row in rows] == ["501", "502"]  # replaced in place, not appended
    assert rows[0]["total"] == "99.50" and rows[0]["sent_at"] == "2025-06-02T11:30:00+00:00"
    assert rows[0]["buyer"] == "Al Noor <Trading> & Co" and rows[0]["email"] == "buy@alnoor.example"
    assert rows[0]["pdf_uri"] == item.pdf_uri and "BC-SKN-0001" in rows[0]["lines"]
    assert rows[1]["buyer"].startswith("'=")  # a formula in buyer text stays text in a spreadsheet
    sheet.send(replace(other, total=Decimal("11.00")))
    assert [row["total"] for row in _sheet(store, sheet.key)] == ["99.50", "11.00"]


# --- fan-out -------------------------------------------------------------------------------------------------------


class _Exploding:
    name = "exploding"

    def send(self, draft: DispatchItem) -> DispatchResult:
        raise RuntimeError("adapter bug")


class _WrongAnswer:
    name = "wrong"

    def send(self, draft: DispatchItem) -> DispatchResult:
        return "ok"  # type: ignore[return-value]


def test_dispatch_all_survives_a_raising_adapter(
    item: DispatchItem, tmp_path: Path, webhook: WebhookServerHandle, client: HttpClient
):
    sheet = CsvSheet(LocalObjectStore(tmp_path / "exports"))
    results = dispatch_all(item, [_Exploding(), sheet, _WrongAnswer(), SlackWebhook(webhook.url, client)])
    assert [(r.channel, r.delivered) for r in results] == [
        ("exploding", False),
        ("sheet", True),
        ("wrong", False),
        ("slack", True),
    ]
    assert results[0].detail == "RuntimeError: adapter bug"
    assert results[2].detail.startswith("TypeError")
    assert len(webhook.received) == 1


def test_dispatchers_from_settings(tmp_path: Path, client: HttpClient):
    store = LocalObjectStore(tmp_path)
    base = {"RFQ_DATA_DIR": str(tmp_path)}
    assert [d.name for d in dispatchers_from_settings(Settings.from_env(base), client, store)] == ["sheet"]

    failures_only = Settings.from_env({**base, "RFQ_SLACK_WEBHOOK_URL": "https://hooks.example/services/T/B/s3cr3t"})
    assert failures_only.quotes_slack_webhook_url == "https://hooks.example/services/T/B/s3cr3t"  # the fallback
    own = Settings.from_env(
        {
            **base,
            "RFQ_SLACK_WEBHOOK_URL": "https://hooks.example/services/T/B/failures",
            "RFQ_QUOTES_SLACK_WEBHOOK_URL": "https://hooks.example/services/T/B/quotes-s3cr3t",
            "HUBSPOT_ACCESS_TOKEN": "pat-na1-settings-secret",
            "RFQ_HUBSPOT_BASE_URL": "http://127.0.0.1:9/",
        }
    )
    assert own.quotes_slack_webhook_url.endswith("/quotes-s3cr3t") and own.slack_webhook_url.endswith("/failures")
    assert own.hubspot_base_url == "http://127.0.0.1:9"
    assert "pat-na1-settings-secret" not in repr(own) and "quotes-s3cr3t" not in repr(own)
    dispatchers = dispatchers_from_settings(own, client, store)
    assert [d.name for d in dispatchers] == ["sheet", "slack", "hubspot"]
    assert "pat-na1-settings-secret" not in repr(dispatchers) and "quotes-s3cr3t" not in repr(dispatchers)
    off = Settings.from_env(
        {**base, "RFQ_SLACK_WEBHOOK_URL": "https://hooks.example/x", "RFQ_QUOTES_SLACK_WEBHOOK_URL": ""}
    )
    assert off.quotes_slack_webhook_url is None and off.slack_webhook_url == "https://hooks.example/x"
    assert Settings.from_env(base).hubspot_base_url == "https://api.hubapi.com"
