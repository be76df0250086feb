"""A bulk import and the same rows arriving one by one end in the same clusters.

The rows are the labeled cross-marketplace dedup records (reposts, copies on other marketplaces, hard negatives) and
real Alibaba board rows, imported from a JSON-lines archive: once as one file (bulk upsert, one embedding batch, one
assignment over all ids) and once row by row (a file each, embedded and assigned as it arrives, in posting order).
"""

import json
from pathlib import Path

import psycopg
from psycopg import sql

from rfq_pipeline.ai.embeddings import embedder_named
from rfq_pipeline.db.database import Database
from rfq_pipeline.dedup.clusters import assign_clusters, ensure_embeddings
from rfq_pipeline.devtools.simulator.catalog import CORPUS
from rfq_pipeline.imports.loader import import_archives
from rfq_pipeline.imports.mapping import load_mapping

LABELS = Path(__file__).resolve().parents[2] / "rfq_pipeline" / "dedup" / "labels" / "records.jsonl"
EMBEDDER = embedder_named("minilm-static")
MAPPING = """columns:
  external_id: id
  title: title
  description: description
  quantity: quantity
  country: country
  buyer: buyer
  posted: posted_at
ignore: [gold_cluster, source]
"""


def _records() -> list[dict]:
    import csv

    records = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with (CORPUS / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8") as handle:
        for row, _ in zip(csv.DictReader(handle), range(80), strict=False):
            day, month, year = (row["Inquiry Date"] or "01-07-2025").split("-")
            records.append(
                {"id": f"ali-{row['RFQ ID']}", "title": row["Title"], "description": "",
                 "quantity": row["Quantity Required"], "country": row["Country"], "buyer": row["Buyer Name"],
                 "posted_at": f"{year}-{month}-{day}"}
            )  # fmt: skip
    return records


def _clusters(url: str) -> dict[str, tuple[str, str]]:
    """external id -> (external id of its cluster's canonical RFQ, how it joined)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT r.external_id, canon.external_id, m.matched_by FROM dedup_cluster_members m "
            "JOIN rfqs r ON r.id = m.rfq_id JOIN dedup_clusters c ON c.id = m.cluster_id "
            "JOIN rfqs canon ON canon.id = c.canonical_rfq_id"
        ).fetchall()
    return {external: (canonical, matched_by) for external, canonical, matched_by in rows}


def _place(db: Database, ids: list[int]) -> None:
    with db.connection() as conn:
        ensure_embeddings(conn, EMBEDDER, ids)
    with db.connection() as conn:
        assign_clusters(conn, ids, model=EMBEDDER.name, min_similarity=0.80, actor="test")


def _all_ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM rfqs ORDER BY id").fetchall()]


def test_a_bulk_import_and_the_same_rows_one_by_one_make_the_same_clusters(clean_db: str, tmp_path: Path) -> None:
    records = _records()
    (tmp_path / "map.yaml").write_text(MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "map.yaml")
    archive = tmp_path / "archive.jsonl"
    archive.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")

    with Database(clean_db, max_size=2) as db:
        report = import_archives(db, [archive], "archive", mapping)
        assert report.bad_rows == 0 and report.inserted == len(records)
        _place(db, _all_ids(clean_db))
    bulk = _clusters(clean_db)

    with psycopg.connect(clean_db) as conn:
        tables = sql.SQL(", ").join(
            map(sql.Identifier, ["dedup_cluster_merges", "dedup_cluster_members", "dedup_clusters", "rfqs"])
        )
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
    # One by one, in the order the bulk import wrote them (posting order).
    order = {external: position for position, external in enumerate(_ordered_ids(records))}
    with Database(clean_db, max_size=2) as db:
        for record in sorted(records, key=lambda r: order[r["id"]]):
            single = tmp_path / "one.jsonl"
            single.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
            import_archives(db, [single], "archive", mapping)
            _place(db, _all_ids(clean_db)[-1:])
    incremental = _clusters(clean_db)

    assert len(bulk) == len(records)
    assert bulk == incremental
    joined = sum(matched_by != "new" for _, matched_by in bulk.values())
    assert joined >= 20  # the set has reposts and cross-marketplace copies: the comparison is not between singletons


def _ordered_ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in sorted(records, key=lambda r: r["posted_at"] or "9999")]
