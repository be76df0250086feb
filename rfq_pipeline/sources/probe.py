"""What an operator runs first on a machine with internet: page 1 of every listing, fetched politely and read.

A probe answers "does this source still work from here?" per listing: the HTTP outcome, how many leads the page
gave, the newest posting day among them, whether a challenge or block came back, and whether the source's selectors
or the fallback extractor read the page. With a save directory it keeps each raw page, byte for byte, beside a
provenance file: the candidates for new served-page fixtures.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from rfq_pipeline.fetch.http_client import FetchResponse
from rfq_pipeline.fetch.polite import SourceUnavailable
from rfq_pipeline.sources.crawl import Fetcher
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.reading import read_list_page
from rfq_pipeline.sources.spec import SourceSpec

BLOCKED_OUTCOMES = ("challenge", "robots_disallowed")


@dataclass(frozen=True)
class ProbeResult:
    """The probe of one listing's first page."""

    source: str
    listing: str
    url: str
    status: str  # "ok", a fetch outcome (http_error, timeout, challenge, ...) or a parse error kind
    http_status: int | None
    leads: int
    newest_day: str | None  # ISO date of the newest dated lead on the page
    blocked: str  # the challenge or block that came back ("" when none)
    extraction: str  # "selectors", "fallback" or "" when nothing was read
    detail: str = ""
    saved_to: str = ""

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), ensure_ascii=False)


def probe_listing(spec: SourceSpec, fetcher: Fetcher, listing: str, *, save_dir: Path | None = None) -> ProbeResult:
    """Fetch page 1 of ``listing`` through ``fetcher`` (the polite layer in use) and read it like a crawl would."""
    url = spec.list_url(listing, 1, datetime.now(UTC), datetime.now(UTC))
    try:
        response = fetcher.get(url)
    except SourceUnavailable as exc:
        return ProbeResult(spec.name, listing, url, "breaker_open", None, 0, None, "", "", exc.reason)
    saved = _save(spec, response, save_dir) if save_dir is not None and response.body else ""
    if not response.ok:
        blocked = response.challenge or (response.outcome if response.outcome in BLOCKED_OUTCOMES else "")
        if response.status in (401, 403) and not blocked:
            blocked = f"HTTP {response.status}"
        return ProbeResult(
            spec.name,
            listing,
            url,
            response.outcome,
            response.status,
            0,
            None,
            blocked,
            "",
            response.error or "",
            saved,
        )
    try:
        page = read_list_page(spec, response.text, fetched_at=response.fetched_at)
    except PageParseError as exc:
        blocked = str(exc) if exc.kind == "challenge" else ""
        return ProbeResult(spec.name, listing, url, exc.kind, response.status, 0, None, blocked, "", str(exc), saved)
    dated = [entry.posted_at for entry in page.entries if entry.posted_at is not None]
    return ProbeResult(
        spec.name,
        listing,
        url,
        "ok",
        response.status,
        len(page.entries),
        max(dated).date().isoformat() if dated else None,
        "",
        page.extraction,
        page.drift,
        saved,
    )


def _save(spec: SourceSpec, response: FetchResponse, save_dir: Path) -> str:
    """Write the raw bytes unchanged and, beside them, where and when they were served."""
    folder = save_dir / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    parts = urlsplit(response.url)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{parts.netloc}{parts.path}{'_' + parts.query if parts.query else ''}")
    stamp = response.fetched_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stem.strip('_')[:150]}.{stamp}.html"
    path.write_bytes(response.body)
    provenance = {
        "source": spec.name,
        "url": response.url,
        "fetched_at": response.fetched_at.astimezone(UTC).isoformat(),
        "http_status": response.status,
        "outcome": response.outcome,
        "content_type": next((v for k, v in response.headers.items() if k.lower() == "content-type"), ""),
        "bytes": len(response.body),
        "sha256": hashlib.sha256(response.body).hexdigest(),
        "saved_by": "rfq-pipeline sources probe",
        "note": "served page, unmodified; cut a verbatim excerpt from it for a fixture and keep this provenance",
    }
    path.with_suffix(".provenance.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return str(path)
