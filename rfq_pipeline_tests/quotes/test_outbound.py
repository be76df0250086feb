"""Quotes and questions e-mailed through SES (moto over HTTP, bootstrapped like an account) from real drafts on the
embedded database: once, threaded, never to a bad address; what moto "sent" is read back over its HTTP API."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.db import repository
from rfq_pipeline.devtools.local_aws import local_aws, sent_mail
from rfq_pipeline.intake.store import ensure_intake_sources
from rfq_pipeline.quotes import store, workflow
from rfq_pipeline.quotes.catalog import load_catalog, load_rates
from rfq_pipeline.quotes.draft import draft_quote
from rfq_pipeline.quotes.outbound import recipient_for, send_draft_mail
from rfq_pipeline.quotes.suppression import Suppression, record_suppressions
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import LocalObjectStore

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TITLE = "Shea body lotion 250ml"
DESCRIPTION = "Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali."
REP = "rep@desk.example"

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, buyer_company, country_raw, country_name,
                  content_sha256, posted_at, attributes)
VALUES (%s, %s, %s, %s, %s, 'Oasis Beauty Trading LLC', 'United Arab Emirates', 'United Arab Emirates', 'x', %s, %s)
RETURNING id
"""
INSERT_BUYER = """
INSERT INTO buyers (cluster_id, rfq_id, company, email, email_status, risk_score, risk_level, method, enricher_version)
VALUES (%s, %s, 'Oasis Beauty Trading LLC', %s, %s, 10, 'low', 'deterministic', 'test') RETURNING id
"""
INSERT_INBOUND = """
INSERT INTO intake_messages (kind, message_key, object_uri, status, from_address, subject, subject_key, thread_keys,
                             rfq_id, joined_thread, received_at)
VALUES ('email', %s, 's3://t-raw-mime/inbound/x', 'parsed', %s, %s, '', %s, %s, %s, %s)
"""


@pytest.fixture()
def aws(pipeline_env: Settings) -> Iterator[Settings]:
    """The test database and a bootstrapped moto, with the local quote sender and intake address."""
    with local_aws():
        yield Settings.from_env()


@pytest.fixture()
def pdfs(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "quote_pdfs")


def seed_draft(
    url: str,
    pdfs: LocalObjectStore,
    *,
    email_address: str | None = "buyer@oasis-beauty.example",
    email_status: str | None = "valid",
    source: str = "alibaba_rfq",
    external_id: str = "rfq-1",
    attributes: dict | None = None,
    approve: bool = True,
) -> int:
    """An RFQ, its cluster, a buyer with this address and status, the draft (priced from the catalog), approved."""
    with psycopg.connect(url) as conn:
        if source == "email":
            ensure_intake_sources(conn)
        else:
            repository.upsert_source(conn, name=source, kind="marketplace", base_url="https://www.alibaba.com",
                                     cadence="1h", enabled=True)  # fmt: skip
        rfq_id = conn.execute(
            INSERT_RFQ,
            (source, external_id, f"https://www.alibaba.com/rfq/{external_id}" if source != "email" else "s3://x",
             TITLE, DESCRIPTION, NOW - timedelta(hours=3), json.dumps(attributes or {})),
        ).fetchone()[0]  # fmt: skip
        cluster_id = conn.execute(
            "INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%s, 1) RETURNING id", (rfq_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by) VALUES (%s, %s, 'new')",
            (rfq_id, cluster_id),
        )
        buyer_id = conn.execute(INSERT_BUYER, (cluster_id, rfq_id, email_address, email_status)).fetchone()[0]
        rfq = RfqText(str(rfq_id), TITLE, DESCRIPTION, country="United Arab Emirates")
        draft = draft_quote(rfq, load_catalog(), load_rates(), incoterm="CIF")
        draft_id = store.save_draft(
            conn, draft, cluster_id=cluster_id, rfq_id=rfq_id, buyer_id=buyer_id, catalog_version="test", now=NOW
        )
        conn.commit()
        assert draft_id is not None
        if approve:
            workflow.approve(conn, draft_id, actor=REP, now=NOW, pdf_store=pdfs)
    return draft_id


def _send(url: str, draft_id: int, settings: Settings, pdfs: LocalObjectStore, **kwargs):
    kwargs.setdefault("kind", "quote")
    kwargs.setdefault("now", NOW + timedelta(minutes=5))
    with psycopg.connect(url) as conn:
        return send_draft_mail(conn, draft_id, actor=REP, settings=settings, pdf_store=pdfs, **kwargs)


def _rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _actions(url: str, draft_id: int) -> list[tuple]:
    return _rows(
        url,
        "SELECT action, from_state, to_state, actor, detail FROM quote_draft_events WHERE draft_id = %s "
        "AND action <> 'state' ORDER BY at, id",
        draft_id,
    )


def _attachment(raw: str) -> bytes:
    message = email.message_from_string(raw, policy=email.policy.default)
    [part] = list(message.iter_attachments())
    return part.get_payload(decode=True)


def test_a_quote_is_emailed_once_with_its_approved_pdf(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs)

    outcome = _send(url, draft_id, aws, pdfs)
    assert outcome.status == "sent", outcome.detail
    assert outcome.to_address == "buyer@oasis-beauty.example"
    assert outcome.message_id.startswith(f"q{draft_id}.v1.quote.") and outcome.message_id.endswith("@example.com")
    again = _send(url, draft_id, aws, pdfs, now=NOW + timedelta(hours=1))
    assert (again.status, again.message_id) == ("already_sent", outcome.message_id)

    [mail] = sent_mail()
    headers = mail["headers"]
    assert mail["source"] == "quotes@example.com" and set(mail["destinations"]) == {"buyer@oasis-beauty.example"}
    assert (headers["From"], headers["To"], headers["Reply-To"]) == (
        "quotes@example.com", "buyer@oasis-beauty.example", "rfq@example.com")  # fmt: skip
    assert headers["Subject"] == f"Quotation Q-{draft_id} v1: {TITLE}"
    assert headers["Message-ID"] == f"<{outcome.message_id}>"
    assert headers["In-Reply-To"] is None and headers["References"] is None  # nothing to thread to
    assert mail["attachments"] == [{"name": f"quotation-Q-{draft_id}-v1.pdf", "content_type": "application/pdf",
                                    "size": len(pdfs.get(workflow.pdf_key(draft_id, "approved")))}]  # fmt: skip
    assert _attachment(mail["raw"]) == pdfs.get(workflow.pdf_key(draft_id, "approved"))
    with psycopg.connect(url) as conn:
        draft = store.get_draft(conn, draft_id)
    assert draft["body"]["cover_text"].split("\n")[0] in mail["text"]
    assert "BC-SKN-0001" in mail["text"] and f"Total: AED {draft['body']['total']}" in mail["text"]

    [row] = _rows(url, "SELECT status, to_address, message_id, ses_message_id, sent_at, actor FROM outbound_emails")
    assert row[:3] == ("sent", "buyer@oasis-beauty.example", outcome.message_id)
    assert row[3] == mail["id"] == outcome.ses_message_id and row[4] == NOW + timedelta(minutes=5) and row[5] == REP
    assert _rows(url, "SELECT state, first_sent_at FROM quote_drafts") == [("sent", NOW + timedelta(minutes=5))]
    [moved] = _rows(url, "SELECT from_state, to_state, note FROM quote_draft_events WHERE draft_id = %s "
                         "AND action = 'state' AND to_state = 'sent'", draft_id)  # fmt: skip
    assert moved == ("approved", "sent", "e-mailed to buyer@oasis-beauty.example")
    [(action, _f, to_state, actor, detail)] = _actions(url, draft_id)
    assert (action, to_state, actor) == ("email_sent", "sent", REP)
    assert detail["message_id"] == outcome.message_id and detail["to"] == "buyer@oasis-beauty.example"


def test_an_emailed_rfq_is_answered_in_the_buyers_thread(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    subject = "Need shea lotion\r\nBcc: someone@elsewhere.example"  # a header injection attempt stays text
    draft_id = seed_draft(
        url,
        pdfs,
        source="email",
        external_id="<req-1@buyer.example>",
        email_address=None,  # the buyer has no enriched address: the sender of the request is the address
        email_status=None,
        attributes={"channel": "email", "from": "Ahmed@Buyer.example", "subject": subject},
        approve=False,
    )
    with psycopg.connect(url) as conn:
        rfq_id = store.get_draft(conn, draft_id)["rfq_id"]
        request = ("<req-1@buyer.example>", "ahmed@buyer.example", subject, ["<earlier@buyer.example>"], rfq_id, False)
        conn.execute(INSERT_INBOUND, (*request, NOW - timedelta(hours=3)))
    with psycopg.connect(url) as conn:
        assert recipient_for(conn, draft_id).status == "ok"

    question = _send(url, draft_id, aws, pdfs, kind="clarification", body_text="Which fragrance, please?",
                     now=NOW - timedelta(hours=2))  # fmt: skip
    assert question.status == "sent", question.detail
    with psycopg.connect(url) as conn:  # the buyer answers, quoting our question; intake attaches it to the RFQ
        conn.execute(INSERT_INBOUND, ("<reply-2@buyer.example>", "ahmed@buyer.example", "Re: Need shea lotion",
                                      ["<req-1@buyer.example>", f"<{question.message_id}>"], rfq_id, True,
                                      NOW - timedelta(hours=1)))  # fmt: skip
        workflow.approve(conn, draft_id, actor=REP, now=NOW, pdf_store=pdfs)
    quote = _send(url, draft_id, aws, pdfs)
    assert quote.status == "sent", quote.detail

    first, second = sent_mail()
    assert first["headers"]["Message-ID"] == f"<{question.message_id}>"
    assert first["headers"]["In-Reply-To"] == "<req-1@buyer.example>"
    assert first["headers"]["References"] == "<earlier@buyer.example> <req-1@buyer.example>"
    assert first["attachments"] == [] and first["text"].strip() == "Which fragrance, please?"
    assert second["headers"]["In-Reply-To"] == "<reply-2@buyer.example>"
    assert second["headers"]["References"] == (
        f"<earlier@buyer.example> <req-1@buyer.example> <{question.message_id}> <reply-2@buyer.example>"
    )
    for mail in (first, second):
        assert mail["headers"]["Subject"] == "Re: Need shea lotion Bcc: someone@elsewhere.example"
        assert mail["headers"]["To"] == "ahmed@buyer.example" and mail["headers"]["Reply-To"] == "rfq@example.com"
        assert set(mail["destinations"]) == {"ahmed@buyer.example"}
        assert "\nBcc:" not in mail["raw"].split("\r\n\r\n", 1)[0].replace("\r\n", "\n")
    assert [a[0] for a in _actions(url, draft_id)] == ["clarification_sent", "email_sent"]


@pytest.mark.parametrize("case", ["invalid", "suppressed"])
def test_a_refused_address_is_never_mailed(aws: Settings, pdfs: LocalObjectStore, case: str) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs, email_status="invalid" if case == "invalid" else "valid")
    if case == "suppressed":
        with psycopg.connect(url) as conn:
            record_suppressions(conn, [Suppression("Buyer@Oasis-Beauty.example", "bounce", {}, "fb-1")])
    outcome = _send(url, draft_id, aws, pdfs)
    expected = "the address was verified invalid" if case == "invalid" else "suppressed after a bounce on "
    assert outcome.status == "refused" and outcome.detail.startswith(expected)
    assert sent_mail() == [] and _rows(url, "SELECT * FROM outbound_emails") == []
    [(action, from_state, to_state, actor, detail)] = _actions(url, draft_id)
    assert (action, from_state, to_state, actor) == ("send_refused", "approved", "approved", REP)
    assert detail["reason"] == outcome.detail


def test_an_unverified_address_needs_a_confirmation_that_is_recorded(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs, email_status="unknown")
    outcome = _send(url, draft_id, aws, pdfs)
    assert (outcome.status, outcome.to_address) == ("needs_confirmation", "buyer@oasis-beauty.example")
    assert sent_mail() == [] and _actions(url, draft_id) == [] and _rows(url, "SELECT * FROM outbound_emails") == []

    confirmed = _send(url, draft_id, aws, pdfs, confirm_unknown=True)
    assert confirmed.status == "sent", confirmed.detail
    assert len(sent_mail()) == 1
    actions = _actions(url, draft_id)
    assert [(a[0], a[3]) for a in actions] == [("confirm_address", REP), ("email_sent", REP)]
    assert actions[0][4]["to"] == "buyer@oasis-beauty.example"


def test_a_marketplace_rfq_without_an_address_becomes_one_reply_task(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs, email_address=None, email_status=None)
    first = _send(url, draft_id, aws, pdfs)
    second = _send(url, draft_id, aws, pdfs)
    assert first.status == second.status == "marketplace_task"
    assert "https://www.alibaba.com/rfq/rfq-1" in first.detail and "already open" in second.detail
    [task] = _rows(url, "SELECT draft_id, version, kind, source, url, body_text, pdf_uri, status "
                        "FROM marketplace_reply_tasks")  # fmt: skip
    assert task[:5] == (draft_id, 1, "quote", "alibaba_rfq", "https://www.alibaba.com/rfq/rfq-1")
    assert "BC-SKN-0001" in task[5] and task[6].endswith("-approved.pdf") and task[7] == "open"
    assert [a[0] for a in _actions(url, draft_id)] == ["marketplace_task"]
    assert sent_mail() == [] and _rows(url, "SELECT state FROM quote_drafts") == [("approved",)]


class _SilentServer:
    """A TCP server that accepts requests and never answers: SES "took" the call and the answer never came."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


def test_a_send_whose_outcome_is_unknown_is_never_repeated(aws: Settings, pdfs: LocalObjectStore) -> None:
    import boto3
    from botocore.config import Config

    url = aws.database_url
    draft_id = seed_draft(url, pdfs)
    server = _SilentServer()
    try:
        # A client of its own: one attempt, one-second read timeout, at a server that never answers.
        config = Config(read_timeout=1, connect_timeout=1, retries={"total_max_attempts": 1})
        silent = boto3.client("sesv2", region_name="us-east-1", endpoint_url=server.url, config=config)
        outcome = _send(url, draft_id, aws, pdfs, ses=silent)
    finally:
        server.close()
    assert outcome.status == "failed" and "Check the SES sending log" in outcome.detail
    [(status, message_id)] = _rows(url, "SELECT status, message_id FROM outbound_emails")
    assert (status, message_id) == ("sending", outcome.message_id)

    again = _send(url, draft_id, aws, pdfs)  # the working SES: still not sent a second time
    assert again.status == "failed" and "never finished" in again.detail and again.message_id == outcome.message_id
    assert sent_mail() == [] and _rows(url, "SELECT state FROM quote_drafts") == [("approved",)]


def test_a_send_ses_refused_is_retried_with_the_same_message_id(aws: Settings, pdfs: LocalObjectStore) -> None:
    from rfq_pipeline.aws.clients import boto3_client

    url = aws.database_url
    draft_id = seed_draft(url, pdfs)
    unverified = replace(aws, quote_from_address="sales@unverified.example")
    refused = _send(url, draft_id, unverified, pdfs)
    assert refused.status == "failed" and "MessageRejected" in refused.detail
    assert _rows(url, "SELECT status FROM outbound_emails") == [("failed",)] and sent_mail() == []

    boto3_client("sesv2", aws).create_email_identity(EmailIdentity="sales@unverified.example")
    retried = _send(url, draft_id, unverified, pdfs)
    assert retried.status == "sent" and retried.message_id == refused.message_id
    [mail] = sent_mail()
    assert mail["headers"]["Message-ID"] == f"<{refused.message_id}>"
    assert _rows(url, "SELECT status, detail FROM outbound_emails") == [("sent", "")]


def test_without_a_sender_or_intake_address_nothing_is_sent_or_recorded(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs)
    no_from = _send(url, draft_id, replace(aws, quote_from_address=None), pdfs)
    no_reply = _send(url, draft_id, replace(aws, intake_address=None), pdfs)
    assert no_from.status == no_reply.status == "not_configured"
    assert "RFQ_QUOTE_FROM" in no_from.detail and "RFQ_INTAKE_ADDRESS" in no_reply.detail
    assert sent_mail() == [] and _actions(url, draft_id) == [] and _rows(url, "SELECT * FROM outbound_emails") == []


def test_only_an_approved_draft_is_quoted_and_a_question_needs_text(aws: Settings, pdfs: LocalObjectStore) -> None:
    url = aws.database_url
    draft_id = seed_draft(url, pdfs, approve=False)
    queued = _send(url, draft_id, aws, pdfs)
    assert queued.status == "failed" and "queued" in queued.detail
    with pytest.raises(ValueError, match="body_text"):
        _send(url, draft_id, aws, pdfs, kind="clarification", body_text="  ")
    with pytest.raises(ValueError, match="kind"):
        _send(url, draft_id, aws, pdfs, kind="invoice")
    with pytest.raises(store.DraftNotFound):
        _send(url, draft_id + 1000, aws, pdfs)
    assert sent_mail() == []
