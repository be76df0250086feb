"""``rfq-pipeline dedup --input IN.jsonl --output OUT.jsonl``: cluster a file of RFQs against a fresh store.

Each input line has ``id``, ``title``, ``description``, ``quantity``, ``country``, ``buyer``, ``posted_at`` (and
optionally ``source`` and ``url``); each output line is ``{"id", "cluster_id", "matched_by"}`` in input order, where
``matched_by`` is ``new`` for the line that founded its cluster. The lines are loaded into a temporary database on
the configured server (rows of a dedicated loader source), embedded, clustered exactly as the pipeline does it, and
the database is dropped: the result depends on the file alone, never on what the system of record holds.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rfq_pipeline.jsonl import iter_records, write_records
from rfq_pipeline.settings import Settings

CLI_SOURCE = "dedup_cli"

INSERT_INPUT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, posted_at, quantity_text, buyer_name,
                  country_raw, content_sha256)
VALUES (%(source)s, %(external_id)s, %(canonical_url)s, %(title)s, %(description)s, %(posted_at)s,
        %(quantity_text)s, %(buyer_name)s, %(country_raw)s, %(content_sha256)s)
ON CONFLICT ON CONSTRAINT rfqs_source_external_id_key DO UPDATE SET last_seen_at = now()
RETURNING id
"""


@dataclass
class DedupRun:
    """The outcome of clustering one set of records."""

    rows: list[dict[str, Any]]  # one per input record, in order: id, cluster_id, matched_by
    clusters: int = 0
    by_matched_by: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # input lines that were skipped, with their line numbers

    @property
    def duplicates(self) -> int:
        """Records that joined an existing cluster."""
        return len(self.rows) - self.clusters


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _posted_at(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None  # an unreadable date only loses ordering information, never the record
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    if "id" not in record or record["id"] in (None, ""):
        raise ValueError(f"record without an id: {dict(record)!r}")
    row = {
        "source": _text(record.get("source")) or CLI_SOURCE,
        "external_id": _text(record["id"]),
        "canonical_url": _text(record.get("url")),
        "title": _text(record.get("title")),
        "description": _text(record.get("description")),
        "posted_at": _posted_at(record.get("posted_at")),
        "quantity_text": _text(record.get("quantity")),
        "buyer_name": _text(record.get("buyer")),
        "country_raw": _text(record.get("country")),
    }
    digest = json.dumps({k: v for k, v in row.items() if k != "posted_at"}, sort_keys=True)
    row["content_sha256"] = hashlib.sha256(digest.encode("utf-8")).hexdigest()
    return row


def dedup_records(
    records: Sequence[Mapping[str, Any]], settings: Settings | None = None, *, min_similarity: float | None = None
) -> DedupRun:
    """Cluster ``records`` (dicts shaped like the CLI's input lines) in a temporary database; input order is kept.

    A record's ``source`` (default ``dedup_cli``) becomes a loader source row; a repeated ``(source, id)`` is the
    same listing and is reported as matched by ``external_id``.
    """
    from rfq_pipeline.ai.embeddings import embedder_named
    from rfq_pipeline.db import repository
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.dedup.clusters import assign_clusters, ensure_embeddings, memberships
    from rfq_pipeline.dedup.tempdb import temporary_database

    settings = settings or Settings.from_env()
    threshold = settings.dedup_min_similarity if min_similarity is None else min_similarity
    rows = [_row(r) for r in records]
    embedder = embedder_named(settings.embedder)
    with temporary_database(settings, prefix="rfq_dedup") as url, Database(url, min_size=1, max_size=1) as db:
        with db.connection() as conn:
            for source in sorted({r["source"] for r in rows}):
                repository.upsert_source(
                    conn, name=source, kind="loader", base_url="file:", cadence="manual", enabled=True
                )
            with conn.cursor() as cur:
                ids: list[int] = []
                if rows:
                    cur.executemany(INSERT_INPUT_RFQ, rows, returning=True)
                    while True:
                        found = cur.fetchone()
                        assert found is not None
                        ids.append(int(found[0]))
                        if not cur.nextset():
                            break
            for start in range(0, len(ids), 2000):
                ensure_embeddings(conn, embedder, ids[start : start + 2000])
        with db.connection() as conn:
            result = assign_clusters(
                conn, ids, model=embedder.name, min_similarity=threshold, actor="cli", settings=settings
            )
        with db.connection() as conn:
            members = memberships(conn, ids)
    run = DedupRun(rows=[], clusters=result.new_clusters - result.merged)
    seen: set[int] = set()
    for record, rfq_id in zip(records, ids, strict=True):
        cluster_id, matched_by, _similarity = members[rfq_id]
        if rfq_id in seen:
            matched_by = "external_id"  # the same listing twice in the input: one rfqs row
        seen.add(rfq_id)
        run.by_matched_by[matched_by] += 1
        run.rows.append({"id": record["id"], "cluster_id": cluster_id, "matched_by": matched_by})
    return run


def read_jsonl(path: Path, errors: list[str] | None = None) -> list[dict[str, Any]]:
    """The records of a JSONL file (see :func:`rfq_pipeline.jsonl.iter_records` for the rules on bad lines)."""
    return list(iter_records(path, errors))


def dedup_jsonl(input_path: Path | str, output_path: Path | str, settings: Settings | None = None) -> DedupRun:
    """Read RFQ lines from ``input_path``, cluster them in a fresh store, write ``id``/``cluster_id``/``matched_by``.

    Bad lines are skipped and listed in ``DedupRun.errors``; the output is written aside and renamed into place.
    """
    errors: list[str] = []
    records = read_jsonl(Path(input_path), errors)
    run = dedup_records(records, settings)
    run.errors = errors
    write_records(Path(output_path), run.rows)
    return run
