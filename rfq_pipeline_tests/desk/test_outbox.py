"""The whole way out on the local AWS (moto over HTTP, as ``make ui`` runs it): approve on the desk, the quote is
e-mailed with its PDF through SES, and the dev outbox shows what SES recorded. Without a loopback AWS there is no
outbox."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask

from rfq_pipeline.db.database import Database
from rfq_pipeline.desk.app import create_app, is_loopback_url
from rfq_pipeline.devtools.local_aws import LOCAL_INTAKE_ADDRESS, LOCAL_QUOTE_FROM, local_aws
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import REP, csrf, flashes, seed_draft, sign_in, state_of


@pytest.fixture()
def aws_app(settings: Settings, database: Database, users, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # Set here so the test's environment is restored after it (local_aws only fills them in when unset).
    monkeypatch.setenv("RFQ_QUOTE_FROM", LOCAL_QUOTE_FROM)
    monkeypatch.setenv("RFQ_INTAKE_ADDRESS", LOCAL_INTAKE_ADDRESS)
    with local_aws():
        yield create_app(Settings.from_env(), database)


def test_an_approved_quote_is_mailed_and_shows_in_the_outbox(aws_app: Flask, settings: Settings) -> None:
    draft_id = seed_draft(settings, "mailed", email="buyer@oasis-beauty.example", email_status="valid")
    client = aws_app.test_client()
    assert sign_in(client).status_code == 302
    assert 'id="nav-outbox"' in client.get("/").get_data(as_text=True)
    token = csrf(client, f"/drafts/{draft_id}")
    client.post(f"/drafts/{draft_id}/approve", data={"csrf_token": token, "version": "1"})
    ok, errors = flashes(client, f"/drafts/{draft_id}")
    assert errors == [] and ok == [f"draft {draft_id} approved", "quote mail sent to buyer@oasis-beauty.example: "
                                   "e-mailed to buyer@oasis-beauty.example"]  # fmt: skip
    assert state_of(settings, draft_id)[0] == "sent"  # a mailed quote is sent
    page = html.unescape(client.get(f"/drafts/{draft_id}").get_data(as_text=True))
    assert "buyer@oasis-beauty.example" in page and f"<td>{REP}</td>" in page and ">sent</td>" in page

    outbox = html.unescape(client.get("/outbox").get_data(as_text=True))
    assert "<dt>To</dt><dd>buyer@oasis-beauty.example</dd>" in outbox
    assert f"<dt>Reply-To</dt><dd>{LOCAL_INTAKE_ADDRESS}</dd>" in outbox
    assert "Shea body lotion 250ml" in outbox and "application/pdf" in outbox and "AED 7.94" in outbox


def test_no_outbox_without_the_local_aws(rep) -> None:
    assert rep.get("/outbox").status_code == 404
    assert 'id="nav-outbox"' not in rep.get("/").get_data(as_text=True)


def test_only_loopback_endpoints_count_as_local() -> None:
    assert is_loopback_url("http://127.0.0.1:5000") and is_loopback_url("http://localhost:4566")
    assert is_loopback_url("http://[::1]:4566")
    assert not is_loopback_url("https://email.eu-west-1.amazonaws.com") and not is_loopback_url(None)
    assert not is_loopback_url("http://127.0.0.1.evil.example")


def test_the_outbox_opens_the_pdf_and_answers_as_the_buyer_through_the_intake(
    aws_app: Flask, settings: Settings
) -> None:
    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.naming import bucket_name
    from rfq_pipeline.intake.mime import parse_email

    draft_id = seed_draft(settings, "mailed", email="buyer@oasis-beauty.example", email_status="valid")
    client = aws_app.test_client()
    sign_in(client)
    client.post(f"/drafts/{draft_id}/approve", data={"csrf_token": csrf(client, f"/drafts/{draft_id}"), "version": "1"})
    page = client.get("/outbox").get_data(as_text=True)
    (pdf_link,) = re.findall(r'href="(/outbox/[^"]+/attachments/0)"', page)
    pdf = client.get(pdf_link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert client.get(pdf_link.replace("/0", "/7")).status_code == 404

    reply_path = pdf_link.replace("/attachments/0", "/reply")
    assert client.post(reply_path, data={"text": "We accept."}).status_code == 400  # no CSRF token: refused
    client.post(reply_path, data={"csrf_token": csrf(client, "/outbox"), "text": "We accept, please invoice."})
    s3 = boto3_client("s3", Settings.from_env())
    bucket = bucket_name(Settings.from_env(), "raw_mime")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="inbound/local-reply-").get("Contents", [])]
    assert len(keys) == 1
    parsed = parse_email(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    with psycopg.connect(str(settings.database_url)) as conn:
        (ours,) = conn.execute("SELECT message_id FROM outbound_emails WHERE draft_id = %s", (draft_id,)).fetchone()
    # Addressed like a real answer: from the buyer to the intake, in our quote's thread.
    assert parsed.from_address == "buyer@oasis-beauty.example" and f"<{ours}>" in parsed.thread_keys
    assert parsed.new_text == "We accept, please invoice." and parsed.subject.startswith("Re: ")


def test_a_quote_that_did_not_go_out_at_approval_is_sent_from_the_desk_once(
    aws_app: Flask, settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfq_pipeline.devtools.local_aws import sent_mail

    draft_id = seed_draft(settings, "late", email="buyer@oasis-beauty.example", email_status="unknown")
    # Approved while outbound mail was not configured yet: the approval stands, nothing is mailed.
    monkeypatch.delenv("RFQ_QUOTE_FROM")
    unconfigured = create_app(Settings.from_env(), database).test_client()
    sign_in(unconfigured)
    unconfigured.post(f"/drafts/{draft_id}/approve", data={
        "csrf_token": csrf(unconfigured, f"/drafts/{draft_id}"), "version": "1", "confirm_address": "1"})  # fmt: skip
    assert state_of(settings, draft_id)[0] == "approved" and sent_mail() == []
    monkeypatch.setenv("RFQ_QUOTE_FROM", LOCAL_QUOTE_FROM)

    client = aws_app.test_client()
    sign_in(client)
    assert 'id="send-quote"' in client.get(f"/drafts/{draft_id}").get_data(as_text=True)
    client.post(f"/drafts/{draft_id}/send", data={"csrf_token": csrf(client, f"/drafts/{draft_id}")})
    ok, errors = flashes(client, f"/drafts/{draft_id}")
    assert ok == [] and errors == ["confirm that buyer@oasis-beauty.example belongs to the buyer before sending"]
    assert sent_mail() == [] and state_of(settings, draft_id)[0] == "approved"

    token = csrf(client, f"/drafts/{draft_id}")
    client.post(f"/drafts/{draft_id}/send", data={"csrf_token": token, "confirm_address": "1"})
    ok, errors = flashes(client, f"/drafts/{draft_id}")
    assert errors == [] and ok == [
        "quote mail sent to buyer@oasis-beauty.example: e-mailed to buyer@oasis-beauty.example"
    ]
    assert state_of(settings, draft_id)[0] == "sent" and len(sent_mail()) == 1

    client.post(
        f"/drafts/{draft_id}/send", data={"csrf_token": csrf(client, f"/drafts/{draft_id}"), "confirm_address": "1"}
    )
    assert flashes(client, f"/drafts/{draft_id}")[1] == [f"draft {draft_id} is sent: only an approved quote is sent"]
    assert len(sent_mail()) == 1
