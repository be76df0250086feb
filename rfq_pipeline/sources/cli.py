"""``rfq-pipeline sources ...``: list the sources, parse a saved page, probe the live listings, the breakers."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.dates import as_utc
from rfq_pipeline.sources.model import PageParseError
from rfq_pipeline.sources.probe import ProbeResult
from rfq_pipeline.sources.reading import lead_record, read_list_page
from rfq_pipeline.sources.registry import SOURCES, resolved_sources


def list_command(settings: Settings) -> int:
    """One JSON line per source: its resolved settings, evidence grade, fixtures and why it is off, if it is."""
    for spec in resolved_sources(settings):
        print(
            json.dumps(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "enabled": spec.enabled,
                    "disabled_reason": spec.disabled_reason or None,
                    "evidence": spec.evidence,
                    "fixtures": list(spec.fixtures),
                    "known_gaps": list(spec.known_gaps),
                    "base_url": spec.base_url,
                    "cadence": spec.cadence,
                    "rate_per_minute": spec.rate_per_minute,
                    "burst": spec.burst,
                    "respect_robots": spec.respect_robots,
                    "date_sorted": spec.date_sorted,
                    "max_pages": spec.max_pages,
                    "listings": list(spec.listings),
                },
                ensure_ascii=False,
            )
        )
    return 0


def parse_command(name: str, file: Path, fetched_at: str | None) -> int:
    """Print one JSON line per lead of a saved listing page; exit 1 with the reason when it cannot be read."""
    spec = SOURCES.get(name)
    if spec is None:
        print(f"unknown source {name!r}; known: {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    try:
        moment = _moment(fetched_at)
    except ValueError as exc:
        print(f"--fetched-at: {exc}", file=sys.stderr)
        return 2
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        print(f"{file}: unreadable: not UTF-8 text ({exc.reason} at byte {exc.start})", file=sys.stderr)
        return 1
    except IsADirectoryError:
        print(f"{file}: unreadable: a directory, not a saved page", file=sys.stderr)
        return 1
    try:
        page = read_list_page(spec, text, fetched_at=moment)
    except PageParseError as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return 1
    for entry in page.entries:
        print(json.dumps(lead_record(entry), ensure_ascii=False))
    if page.extraction == "fallback":
        print(f"{file}: layout drift, leads read by the fallback extractor ({page.drift})", file=sys.stderr)
    return 0


def probe_command(settings: Settings, names: Sequence[str], save_dir: Path | None, as_json: bool) -> int:
    """Fetch page 1 of each listing of the named (default: every enabled) source and say how it reads.

    Exits 1 when any probed listing did not read (blocked, failed or no leads), so scripts can alarm on it.
    """
    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.fetch.http_client import HttpClient
    from rfq_pipeline.sources.ingest import polite_fetcher, register_sources
    from rfq_pipeline.sources.probe import probe_listing

    unknown = [name for name in names if name not in SOURCES]
    if unknown:
        print(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    specs = [spec for spec in resolved_sources(settings) if (spec.name in names if names else spec.enabled)]
    results: list[ProbeResult] = []
    with Database(resolve_database_url(settings), min_size=1, max_size=2) as db:
        register_sources(db, specs)
        for spec in specs:
            if not spec.crawl_allowed:
                result = ProbeResult(spec.name, "-", spec.site_url, "off", None, 0, None, "", "", spec.disabled_reason)
                _show(result, as_json)
                continue
            client = HttpClient.from_settings(settings, spec.impersonate)
            try:
                fetcher = polite_fetcher(spec, db, client)
                for listing in spec.listings:
                    result = probe_listing(spec, fetcher, listing, save_dir=save_dir)
                    results.append(result)
                    _show(result, as_json)
            finally:
                client.close()
    return 0 if results and all(r.status == "ok" and r.leads > 0 for r in results) else 1


def _show(result: ProbeResult, as_json: bool) -> None:
    if as_json:
        print(result.to_json(), flush=True)
        return
    parts = [
        f"{result.source:<17}",
        f"{result.status:<13}",
        f"http={result.http_status if result.http_status is not None else '-':<4}",
        f"leads={result.leads:<3}",
        f"newest={result.newest_day or '-':<10}",
        f"read_by={result.extraction or '-':<9}",
        f"blocked={result.blocked or '-'}",
        result.url,
    ]
    if result.detail:
        parts.append(f"({result.detail})")
    if result.saved_to:
        parts.append(f"saved={result.saved_to}")
    print("  ".join(parts), flush=True)


def _moment(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
