"""The sales desk as a rep uses it, in a real headless Chromium: sign in, open a draft, edit a line, approve; the
quote leaves through SES (the local AWS, moto over HTTP) with its PDF, threaded to the buyer's mail, every action is
in the draft's events, and the buyer's answer comes back into the thread.

The draft is made by the real path: the buyer's e-mail goes through the MIME parser and the intake store, the RFQ is
labeled, clustered and enriched, and the drafter prices it from the catalog. With ``RFQ_DESK_SCREENSHOT`` set the
test saves the draft page there (the README's picture).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from rfq_pipeline.db.database import Database
from rfq_pipeline.desk.app import create_app
from rfq_pipeline.desk.auth import add_user
from rfq_pipeline.devtools.local_aws import LOCAL_INTAKE_ADDRESS, LOCAL_QUOTE_FROM, local_aws, sent_mail
from rfq_pipeline.enrich.enrichment import ENRICHER_VERSION, enrich_cluster
from rfq_pipeline.enrich.store import clusters_to_enrich, write_buyer
from rfq_pipeline.intake import store as intake_store
from rfq_pipeline.intake.mime import parse_email
from rfq_pipeline.quotes import store, workflow
from rfq_pipeline.quotes.catalog import DEFAULT_CATALOG, load_catalog, load_rates
from rfq_pipeline.quotes.versions import redraft_from_reply
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import object_store_for

SCREENSHOT = os.environ.get("RFQ_DESK_SCREENSHOT")  # read before the fixtures clear RFQ_* settings
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
BUYER = "amal.haddad@oasis-beauty.example"
BUYER_MESSAGE_ID = "rfq-serum-0001@oasis-beauty.example"
REP = "rep@desk.example"
PASSWORD = "correct horse battery staple"
# The buyer's own words, markup included: the desk must show them as text, never run them.
BODY = (
    "Dear supplier,\n\nWe need 5000 pieces of vitamin C face serum 30ml, private label, CIF Jebel Ali.\n"
    "Our web form added this: <script>document.title='pwned'</script>\n\nRegards,\nAmal Haddad\nOasis Beauty Trading"
)


def _mail(message_id: str, subject: str, body: str, *, in_reply_to: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"Amal Haddad <{BUYER}>"
    message["To"] = LOCAL_INTAKE_ADDRESS
    message["Subject"] = subject
    message["Date"] = "Mon, 07 Dec 2026 09:00:00 +0400"
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{BUYER_MESSAGE_ID}> <{in_reply_to}>"
    message.set_content(body)
    return message.as_bytes()


def _seed_draft(settings: Settings) -> int:
    """The buyer's mail becomes an RFQ, a cluster, a buyer and a priced draft, as the pipeline makes them."""
    url = str(settings.database_url)
    raw = _mail(BUYER_MESSAGE_ID, "RFQ: vitamin C face serum 30ml", BODY)
    with psycopg.connect(url) as conn:
        store.load_catalog_rows(conn, load_catalog(), store.catalog_version(DEFAULT_CATALOG.read_text()))
        outcome = intake_store.record_email(conn, parse_email(raw), "s3://raw-mime/inbound/serum", [],
                                            received_at=DAY + timedelta(hours=9))  # fmt: skip
        rfq_id = outcome.rfq_id
        assert rfq_id is not None
        conn.execute(
            "INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality) "
            "VALUES (%s, 'test-v1', 'local', 'beauty_personal_care', true, 'buy_request', 0.9)",
            (rfq_id,),
        )
        cluster_id = conn.execute(
            "INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%s, 1) RETURNING id", (rfq_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by) VALUES (%s, %s, 'new')",
            (rfq_id, cluster_id),
        )
        for cluster in clusters_to_enrich(conn, DAY, DAY + timedelta(days=1)):
            profile, method, record = enrich_cluster(cluster)
            write_buyer(conn, cluster, profile, method=method, enricher_version=ENRICHER_VERSION, research=record)
        conn.commit()
        run = workflow.draft_partition(
            conn, DAY, DAY + timedelta(days=1), rates=load_rates(), pdf_store=object_store_for("quote_pdfs", settings),
            now=datetime.now(UTC),
        )
        add_user(conn, REP, "rep", PASSWORD)
        conn.commit()
    (draft_id,) = run.created
    return draft_id


@pytest.fixture()
def desk(clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Settings]]:
    """The local AWS (SES with the sender verified), a drafted quote, and the desk served over HTTP by waitress."""
    from waitress.server import create_server

    for key in list(os.environ):
        if key.startswith(("RFQ_", "AWS_")) or key in {"DATABASE_URL", "ANTHROPIC_API_KEY"}:
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", clean_db)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFQ_QUOTE_FROM", LOCAL_QUOTE_FROM)
    monkeypatch.setenv("RFQ_INTAKE_ADDRESS", LOCAL_INTAKE_ADDRESS)
    monkeypatch.setenv("RFQ_DNS_SERVER", "off")  # the test asks nothing of the outside world
    with local_aws():
        settings = Settings.from_env()
        with Database(clean_db, min_size=1, max_size=4) as database:
            server = create_server(create_app(settings, database), host="127.0.0.1", port=0, threads=4)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{server.effective_port}", settings
            finally:
                server.close()
                thread.join(timeout=10)


def _wait(driver: WebDriver, css: str) -> None:
    try:
        WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))
    except TimeoutException:
        # What the browser showed instead is the one clue worth having when this fails in CI.
        text = driver.find_element(By.TAG_NAME, "body").text if driver.find_elements(By.TAG_NAME, "body") else ""
        raise AssertionError(f"no {css!r} on {driver.current_url}; the page says:\n{text[:3000]}") from None


def _flashes(driver: WebDriver) -> tuple[list[str], list[str]]:
    ok = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".flash:not(.flash-error)")]
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".flash-error")]
    return ok, errors


def test_a_rep_signs_in_edits_a_line_approves_and_the_buyer_gets_the_quote_and_answers(
    chromium: WebDriver, desk: tuple[str, Settings]
) -> None:
    base, settings = desk
    draft_id = _seed_draft(settings)
    driver = chromium

    # Sign in.
    driver.get(f"{base}/")
    _wait(driver, "#email")
    driver.find_element(By.ID, "email").send_keys(REP)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in").click()
    _wait(driver, f"tr.draft-row[data-draft-id='{draft_id}']")
    assert REP in driver.find_element(By.ID, "signed-in-user").text

    # Open the draft from the queue: the buyer's markup is shown as text and never ran.
    driver.find_element(By.CSS_SELECTOR, f"tr.draft-row[data-draft-id='{draft_id}'] a.open-draft").click()
    _wait(driver, "#edit-form")
    assert "<script>document.title='pwned'</script>" in driver.find_element(By.TAG_NAME, "body").text
    assert driver.title != "pwned"
    assert "VITAMIN C" in driver.page_source.upper() and "5000" in driver.page_source.replace(",", "")

    # Edit the line: 10,000 pieces instead of 5,000; the guardrails run again and a new version is saved.
    quantity = driver.find_element(By.NAME, "line-0-quantity")
    quantity.clear()
    quantity.send_keys("10000")
    driver.find_element(By.ID, "save-edit").click()
    _wait(driver, ".flash")
    ok, errors = _flashes(driver)
    assert errors == [], errors
    with psycopg.connect(str(settings.database_url)) as conn:
        state, version, body = conn.execute(
            "SELECT state, version, body FROM quote_drafts WHERE id = %s", (draft_id,)
        ).fetchone()
    assert (state, version) == ("edited", 2) and body["lines"][0]["quantity"] == 10000

    # Approve and send: the buyer e-mailed the request from this address, so the desk shows it as the recipient.
    assert BUYER in driver.find_element(By.ID, "approve-form").text or BUYER in driver.page_source
    assert sent_mail() == []
    if SCREENSHOT:
        driver.set_window_size(1280, 1700)  # the request, the buyer and the priced lines in one picture
        driver.save_screenshot(SCREENSHOT)
    driver.find_element(By.ID, "approve").click()
    _wait(driver, ".flash")
    ok, errors = _flashes(driver)
    assert errors == [] and any("sent" in message for message in ok), (ok, errors)

    # What SES accepted: one mail to the buyer, the approved PDF attached, replies to the intake, in the thread.
    (mail,) = sent_mail()
    headers = mail["headers"]
    assert BUYER in headers["To"] and LOCAL_QUOTE_FROM in headers["From"]
    assert headers["Reply-To"] == LOCAL_INTAKE_ADDRESS
    assert headers["In-Reply-To"] == f"<{BUYER_MESSAGE_ID}>" and BUYER_MESSAGE_ID in headers["References"]
    assert headers["Subject"].startswith("Re: RFQ: vitamin C face serum 30ml")
    (attachment,) = mail["attachments"]
    assert attachment["content_type"] == "application/pdf" and attachment["size"] > 1000

    # Every action is in the events with the rep as actor.
    with psycopg.connect(str(settings.database_url)) as conn:
        events = conn.execute(
            "SELECT action, to_state, actor FROM quote_draft_events WHERE draft_id = %s ORDER BY at, id", (draft_id,)
        ).fetchall()
        our_id = conn.execute("SELECT message_id FROM outbound_emails WHERE draft_id = %s", (draft_id,)).fetchone()[0]
    mine = [(action, to_state) for action, to_state, actor in events if actor == REP]
    assert ("edit", "edited") in mine or ("state", "edited") in mine
    assert ("state", "approved") in mine
    assert ("state", "sent") in mine and any(action == "email_sent" for action, _ in mine)

    # The buyer answers the quote: the intake joins it to the RFQ's thread and names the draft it answers, and the
    # intake asset records it on the draft (a sent quote gets no new version, the answer goes into its history).
    reply = _mail("reply-0002@oasis-beauty.example", "Re: RFQ: vitamin C face serum 30ml",
                  "Thank you, we accept. Please send the proforma invoice.", in_reply_to=our_id)  # fmt: skip
    with psycopg.connect(str(settings.database_url)) as conn:
        outcome = intake_store.record_email(conn, parse_email(reply), "s3://raw-mime/inbound/reply", [],
                                            received_at=datetime.now(UTC))  # fmt: skip
        conn.commit()
        assert outcome.joined_thread and outcome.reply_to_draft == draft_id
        redraft_from_reply(conn, draft_id, outcome.reply_text or "", message_id=outcome.message_key,
                           now=datetime.now(UTC), pdf_store=object_store_for("quote_pdfs", settings))  # fmt: skip
        thread = repository_thread(conn, outcome.rfq_id)
    assert "reply-0002@oasis-beauty.example" in thread[-1]["message_id"]
    driver.get(f"{base}/drafts/{draft_id}")
    _wait(driver, "#mark-form")
    assert "reply_received" in driver.page_source


def repository_thread(conn: psycopg.Connection, rfq_id: int | None) -> list[dict]:
    """The thread entries stored on an RFQ."""
    row = conn.execute("SELECT attributes -> 'thread' FROM rfqs WHERE id = %s", (rfq_id,)).fetchone()
    return list(row[0] or [])

