"""A moto server over real HTTP on loopback for the session, reset before each test, and the environment for it."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator

import pytest

from rfq_pipeline.settings import Settings

BUCKETS = {
    "raw_pages": "t-raw-pages",
    "raw_mime": "t-raw-mime",
    "uploads": "t-uploads",
    "exports": "t-exports",
    "quote_pdfs": "t-quote-pdfs",
    "models": "t-models",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint URL of a moto server (all services) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    from rfq_pipeline.devtools.local_aws import scan_before_giving_up

    scan_before_giving_up()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Settings:
    """A clean moto state and an environment pointing every client at it; returns the settings it yields."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    for key in list(os.environ):
        if key.startswith(("RFQ_", "AWS_")) or key in {"DATABASE_URL", "ANTHROPIC_API_KEY"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    for role, bucket in BUCKETS.items():
        monkeypatch.setenv(f"RFQ_S3_BUCKET_{role.upper()}", bucket)
    return Settings.from_env()
