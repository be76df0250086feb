"""The ``rfqs/clusters`` asset materialized for one day on the real database."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.clusters import CLUSTERS_KEY, INVARIANTS_CHECK, cluster_assets
from rfq_pipeline.db import repository
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name, country_raw,
                  content_sha256, posted_at)
VALUES (%s, %s, '', %s, '', %s, %s, %s, 'x', %s)
"""


def test_asset_clusters_the_day_and_checks_the_invariants(
    clean_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", clean_db)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    day = datetime(2025, 7, 13, 9, tzinfo=UTC)
    with psycopg.connect(clean_db) as conn:
        for name in ("alibaba_rfq", "tradekey"):
            repository.upsert_source(
                conn, name=name, kind="marketplace", base_url="https://x", cadence="1h", enabled=True
            )
        rows = [
            ("alibaba_rfq", "1", "Solar Panels 550W Mono", "36 Piece/Pieces", "Buyer-1", "United Arab Emirates", day),
            ("alibaba_rfq", "2", "Solar Panels 550W Mono", "36 Piece/Pieces", "Buyer-1", "United Arab Emirates", day),
            ("alibaba_rfq", "3", "Solar Panels 550W Mono", "36 Piece/Pieces", "Buyer-2", "United Arab Emirates", day),
            ("tradekey", "4", "Buy Waste Paper", "", "", "", day),
            ("tradekey", "5", "Buy Waste Paper", "", "", "", datetime(2025, 7, 14, 1, tzinfo=UTC)),  # next day
        ]
        for row in rows:
            conn.execute(INSERT_RFQ, row)

    for _ in range(2):  # the second materialization finds everything assigned and changes nothing
        result = dg.materialize(
            cluster_assets,
            partition_key="2025-07-13",
            resources={"postgres": PostgresResource(), "models": ObjectStoreResource(role="models")},
        )
        assert result.success
    events = result.get_asset_materialization_events()
    metadata = events[0].materialization.metadata
    assert metadata["dagster/row_count"].value == 4
    assert metadata["already_assigned"].value == 4 and metadata["new_clusters"].value == 0
    assert "alibaba_rfq" in metadata["duplicate_rate_by_source"].value
    checks = result.get_asset_check_evaluations()
    assert [(c.asset_key, c.check_name, c.passed) for c in checks] == [(CLUSTERS_KEY, INVARIANTS_CHECK, True)]
    with psycopg.connect(clean_db) as conn:
        counts = conn.execute(
            "SELECT count(*), sum(member_count) FROM dedup_clusters WHERE merged_into IS NULL"
        ).fetchone()
        # 1+2 one buyer's repost, 3 another buyer, 4 alone; 5 is the next day's partition
        assert counts == (3, 4)
        # the asset embedded what rfqs/embedded had not
        assert conn.execute("SELECT count(*) FROM rfq_embeddings").fetchone() == (4,)
