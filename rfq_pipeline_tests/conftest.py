"""Shared fixtures: a real embedded PostgreSQL 18 + pgvector, migrated once per session, and the simulator."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from rfq_pipeline.db import migrations
from rfq_pipeline.db.embedded import ensure_embedded_server, stop_embedded_server
from rfq_pipeline.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO_ROOT / "sql"

# Tables the tests may empty between tests; schema_migrations is never touched.
DATA_TABLES = (
    "labels",
    "desk_link_tokens",
    "desk_login_attempts",
    "desk_users",
    "email_suppressions",
    "marketplace_reply_tasks",
    "outbound_emails",
    "quote_draft_versions",
    "quote_dispatches",
    "quote_draft_events",
    "quote_drafts",
    "buyer_contacts",
    "buyers",
    "catalog_products",
    "intake_attachments",
    "intake_messages",
    "intake_requests",
    "llm_batch_items",
    "llm_batches",
    "llm_spend",
    "rfq_embeddings_staging",
    "rate_limit_slots",
    "source_crawls",
    "listing_reach",
    "dedup_cluster_merges",
    "dedup_cluster_members",
    "dedup_clusters",
    "rfq_embeddings",
    "model_versions",
    "classifications",
    "rfqs",
    "raw_pages",
    "source_health",
    "sources",
    "run_failures",
)


@pytest.fixture(scope="session")
def embedded_pgdata() -> Iterator[Path]:
    """A data directory for the session's embedded server (short path: the server's socket lives in it)."""
    with tempfile.TemporaryDirectory(prefix="rfqpg-") as tmp:
        yield Path(tmp) / "pg"


@pytest.fixture(scope="session")
def pg_url(embedded_pgdata: Path) -> Iterator[str]:
    """URL of a migrated database on the session's embedded server."""
    url = ensure_embedded_server(embedded_pgdata)
    migrations.migrate(url, MIGRATIONS_DIR)
    yield url
    stop_embedded_server(embedded_pgdata)


@pytest.fixture()
def fresh_database(pg_url: str) -> Iterator[str]:
    """URL of a new, empty database on the same server (for migration tests)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = psycopg.conninfo.conninfo_to_dict(pg_url)
    parts["dbname"] = name
    yield psycopg.conninfo.make_conninfo(**parts)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture()
def clean_db(pg_url: str) -> str:
    """The session database with every data table emptied."""
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in DATA_TABLES)
            )
        )
    return pg_url


@pytest.fixture(scope="session")
def simulator():
    """The marketplace simulator on a free loopback port for the whole session."""
    from rfq_pipeline.devtools.simulator import start_simulator

    handle = start_simulator()
    yield handle
    handle.stop()


@pytest.fixture()
def pipeline_env(clean_db: str, simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Environment of a pipeline run: the test database, the simulator, a private data dir, quick retries."""
    simulator.clear_faults()
    for key in list(os.environ):
        if key.startswith(("RFQ_", "AWS_")) or key in {"DATABASE_URL", "ANTHROPIC_API_KEY"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DATABASE_URL", clean_db)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFQ_SIMULATOR_URL", simulator.url)
    monkeypatch.setenv("RFQ_HTTP_TIMEOUTS", "10,10,10")  # generous: a loaded CI machine must not look like a fault
    monkeypatch.setenv("RFQ_HTTP_BACKOFF", "0.05,0.05,0.05")
    return Settings.from_env()


# The local Anthropic API for the tests of the Messages-API callers (research agent, cover-text composer): one server
# per module, reset around each test; ``client`` is the real SDK pointed at it.
@pytest.fixture(scope="module")
def server():
    """The local Anthropic API server (batch responder: a fixed label)."""
    from rfq_pipeline.devtools.anthropic_server import start_anthropic_server

    handle = start_anthropic_server(responder=lambda rfq: {"industry": "other", "intent": "buy_request"})
    yield handle
    handle.stop()


@pytest.fixture()
def api(server):
    """The server with no scripted turns or responder left from another test."""
    server.reset()
    server.set_message_responder(None)
    yield server
    server.reset()
    server.set_message_responder(None)


@pytest.fixture()
def client(api, tmp_path: Path):
    """The ``anthropic`` SDK client of the settings, pointed at the local server, without SDK retries."""
    from rfq_pipeline.ai.anthropic_batches import make_client

    settings = Settings(data_dir=tmp_path, anthropic_api_key=api.api_key, anthropic_base_url=api.url)
    sdk = make_client(settings, max_retries=0, timeout_s=10.0)
    yield sdk
    sdk.close()
