"""The desk on the real embedded database: an app per test, desk users, and drafts made by the real drafting path
(RFQ rows, a cluster and its buyer as the quote tests insert them, then ``workflow.draft_partition`` prices each
draft from the loaded catalog and renders its preview PDF)."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.desk.app import create_app
from rfq_pipeline.desk.auth import add_user
from rfq_pipeline.quotes import store, workflow
from rfq_pipeline.quotes.catalog import DEFAULT_CATALOG, load_catalog, load_rates
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import object_store_for

SECRET = "desk-test-secret-0123456789abcdefghijklmnop"
PASSWORD = "correct horse battery staple"
REP = "rep@desk.example"
LEAD = "lead@desk.example"
TITLE = "Shea body lotion 250ml"
DESCRIPTION = "Please quote 5,000 tubes of shea body lotion 250ml, CIF Jebel Ali."

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name, buyer_company,
                  country_raw, country_name, country_code, content_sha256, posted_at, attributes)
VALUES (%(source)s, %(external_id)s, %(url)s, %(title)s, %(description)s, %(quantity)s, 'Amal', %(company)s,
        %(country)s, %(country)s, %(country_code)s, 'x', %(posted_at)s, '{}')
RETURNING id
"""
LABEL = """
INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality)
VALUES (%s, 'test-v1', 'local', %s, true, 'buy_request', 0.9)
"""
INSERT_BUYER = """
INSERT INTO buyers (cluster_id, rfq_id, company, domain, country_code, email, email_status, confidence, risk_score,
                    risk_level, risk_reasons, method, enricher_version)
VALUES (%(cluster_id)s, %(rfq_id)s, %(company)s, %(domain)s, %(country_code)s, %(email)s, %(email_status)s,
        %(confidence)s, %(risk_score)s, %(risk)s, %(risk_reasons)s, 'deterministic', 'test')
RETURNING id
"""
INSERT_CONTACT = """
INSERT INTO buyer_contacts (buyer_id, contact_key, name, role, email, evidence)
VALUES (%s, 'amal', 'Amal Haddad', 'purchasing', %s, %s)
"""


@pytest.fixture()
def settings(clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test database, a private data directory, the desk's key; no AWS, no Slack, no mail sender."""
    for key in list(os.environ):
        if key.startswith(("RFQ_", "AWS_")) or key in {"DATABASE_URL", "ANTHROPIC_API_KEY"}:
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", clean_db)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFQ_DESK_SECRET_KEY", SECRET)
    with psycopg.connect(clean_db) as conn:
        store.load_catalog_rows(conn, load_catalog(), store.catalog_version(DEFAULT_CATALOG.read_text()))
    return Settings.from_env()


@pytest.fixture()
def database(settings: Settings) -> Iterator[Database]:
    with Database(str(settings.database_url), min_size=1, max_size=4) as db:
        yield db


@pytest.fixture()
def app(settings: Settings, database: Database) -> Flask:
    app = create_app(settings, database)
    app.config["TESTING"] = True
    return app


@pytest.fixture()
def users(settings: Settings) -> dict[str, int]:
    """A rep and a lead, both with :data:`PASSWORD`."""
    with psycopg.connect(str(settings.database_url)) as conn:
        return {email: add_user(conn, email, role, PASSWORD).id for email, role in ((REP, "rep"), (LEAD, "lead"))}


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the forms on ``path``."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str = REP, password: str = PASSWORD) -> Any:
    """Sign in through the login form; returns the response to the POST."""
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


@pytest.fixture()
def rep(app: Flask, users: dict[str, int]) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, REP).status_code == 302
    return client


@pytest.fixture()
def lead(app: Flask, users: dict[str, int]) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, LEAD).status_code == 302
    return client


def seed_draft(
    settings: Settings,
    key: str,
    *,
    ready_at: datetime | None = None,
    title: str = TITLE,
    description: str = DESCRIPTION,
    quantity: str = "",
    source: str = "alibaba_rfq",
    country: str = "United Arab Emirates",
    country_code: str = "AE",
    industry: str = "beauty_personal_care",
    buyer_country: str | None = "AE",
    risk: str = "low",
    email: str | None = "buyer@oasis-beauty.example",
    email_status: str | None = "unknown",
    reposts: tuple[str, ...] = (),
) -> int:
    """One RFQ (plus ``reposts`` on other sources, same cluster), its buyer and contact, drafted and priced by
    ``workflow.draft_partition`` at ``ready_at`` (default now), with its preview PDF in the quote-PDF store."""
    ready_at = ready_at or datetime.now(UTC)
    posted = ready_at - timedelta(hours=2)
    with psycopg.connect(str(settings.database_url)) as conn:
        rfq_ids = []
        for number, name in enumerate((source, *reposts)):
            repository.upsert_source(conn, name=name, kind="marketplace", base_url=f"https://{name}.example",
                                     cadence="1h", enabled=True)  # fmt: skip
            rfq_id = conn.execute(
                INSERT_RFQ,
                {
                    "source": name,
                    "external_id": f"{key}-{number}",
                    "url": f"https://{name}.example/rfq/{key}-{number}",
                    "title": title if number == 0 else f"{title} (repost {number})",
                    "description": description,
                    "quantity": quantity,
                    "company": "Oasis Beauty Trading LLC",
                    "country": country,
                    "country_code": country_code,
                    "posted_at": posted + timedelta(minutes=number),
                },
            ).fetchone()[0]
            conn.execute(LABEL, (rfq_id, industry))
            rfq_ids.append(rfq_id)
        cluster_id = conn.execute(
            "INSERT INTO dedup_clusters (canonical_rfq_id, member_count) VALUES (%s, %s) RETURNING id",
            (rfq_ids[0], len(rfq_ids)),
        ).fetchone()[0]
        for number, rfq_id in enumerate(rfq_ids):
            conn.execute(
                "INSERT INTO dedup_cluster_members (rfq_id, cluster_id, matched_by) VALUES (%s, %s, %s)",
                (rfq_id, cluster_id, "new" if number == 0 else "near_duplicate"),
            )
        buyer_id = conn.execute(
            INSERT_BUYER,
            {
                "cluster_id": cluster_id,
                "rfq_id": rfq_ids[0],
                "company": "Oasis Beauty Trading LLC",
                "domain": "oasis-beauty.example",
                "country_code": buyer_country,
                "email": email,
                "email_status": email_status,
                "confidence": json.dumps({"company": 0.9, "email": 0.6}),
                "risk_score": {"low": 10, "medium": 50, "high": 90}[risk],
                "risk": risk,
                "risk_reasons": json.dumps(["free-mail domain"] if risk != "low" else []),
            },
        ).fetchone()[0]
        evidence = [{"source": "rfq", "text": f"Contact: {email}"}] if email else []
        conn.execute(INSERT_CONTACT, (buyer_id, email, json.dumps(evidence)))
        conn.commit()
        run = workflow.draft_partition(
            conn,
            posted - timedelta(minutes=30),
            posted + timedelta(minutes=30),
            rates=load_rates(),
            pdf_store=object_store_for("quote_pdfs", settings),
            now=ready_at,
        )
    (draft_id,) = run.created
    return draft_id


def state_of(settings: Settings, draft_id: int) -> tuple[str, int]:
    """The draft's state and version."""
    with psycopg.connect(str(settings.database_url)) as conn:
        row = conn.execute("SELECT state, version FROM quote_drafts WHERE id = %s", (draft_id,)).fetchone()
    return row[0], row[1]


def events(settings: Settings, draft_id: int) -> list[tuple[str, str, str, str, str]]:
    """(action, from, to, actor, note) of every event of the draft, oldest first."""
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute(
            "SELECT action, from_state, to_state, actor, note FROM quote_draft_events WHERE draft_id = %s "
            "ORDER BY at, id",
            (draft_id,),
        ).fetchall()


def flashes(client: FlaskClient, path: str) -> tuple[list[str], list[str]]:
    """The (ok, error) flash messages shown on ``path``."""
    page = client.get(path).get_data(as_text=True)
    ok = re.findall(r'<p class="flash">([^<]*)</p>', page)
    errors = re.findall(r'<p class="flash flash-error">([^<]*)</p>', page)
    return [html.unescape(m) for m in ok], [html.unescape(m) for m in errors]
