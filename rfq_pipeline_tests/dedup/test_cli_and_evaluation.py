"""The dedup CLI on a small JSONL file and the evaluation on the real repost corpus (both on fresh databases)."""

import json
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline import cli
from rfq_pipeline.dedup.cli import dedup_jsonl
from rfq_pipeline.dedup.evaluation import cross_site_copies, evaluate, labeled_records
from rfq_pipeline.settings import Settings

COCONUT = (
    "Please quote for the following wholesale product requirement -\n\nProduct Name: Coconut Milk\n\n"
    "Specifications :\n17% Fat\nPvt. Label\nPackaging Terms  : 400ml Cans, Tetra Pack\n\n"
    "Quantity Required : 1 Forty-Foot Container \n\nDestination Port : New York, Miami, Florida, United States"
)
LINES = [
    {
        "id": "a1",
        "title": "Wanted : Coconut Milk",
        "description": COCONUT,
        "quantity": "1 Forty-Foot Container",
        "country": "United States",
        "buyer": "",
        "posted_at": "2021-11-15",
    },
    {
        "id": "a2",
        "title": "Wanted : Coconut Milk",
        "description": COCONUT,
        "quantity": "1 Forty-Foot Container",
        "country": "United States",
        "buyer": "",
        "posted_at": "2021-11-22",
    },
    {
        "id": "b1",
        "title": "Coconut Milk 17% Fat 400ml Cans",
        "description": " ".join(COCONUT.split()),
        "quantity": "1 x 40' FCL",
        "country": "USA",
        "buyer": "",
        "posted_at": "2021-11-23T10:00:00Z",
    },
    {
        "id": "c1",
        "title": "Pristine clean for 2022 Mer-cedess-Benz S500",
        "description": "",
        "quantity": "1 Unit/Units",
        "country": "United Arab Emirates",
        "buyer": "Buyer-561bc8ba",
        "posted_at": "2025-07-13",
    },
    {
        "id": "c2",
        "title": "Pristine clean for 2022 Mer-cedess-Benz S500",
        "description": "",
        "quantity": "1 Unit/Units",
        "country": "United Arab Emirates",
        "buyer": "Buyer-e05197a8",
        "posted_at": "2025-07-13",
    },
    {
        "id": "a1",
        "title": "Wanted : Coconut Milk",
        "description": COCONUT,
        "quantity": "1 Forty-Foot Container",
        "country": "United States",
        "buyer": "",
        "posted_at": "2021-11-15",
    },
]


@pytest.fixture()
def server_env(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("RFQ_DATA_DIR", str(tmp_path / "data"))
    for name in ("RFQ_EMBEDDER", "RFQ_DEDUP_MIN_SIMILARITY", "RFQ_MIGRATIONS_DIR"):
        monkeypatch.delenv(name, raising=False)
    return Settings.from_env()


def _databases(pg_url: str) -> set[str]:
    with psycopg.connect(pg_url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_cli_dedups_a_jsonl_file_in_a_fresh_store(server_env: Settings, pg_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in LINES) + "\n\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    before = _databases(pg_url)
    assert cli.main(["dedup", "--input", str(source), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [line["id"] for line in LINES]
    cluster = {r["id"]: r["cluster_id"] for r in rows}
    assert cluster["a1"] == cluster["a2"] == cluster["b1"]
    assert cluster["c1"] != cluster["c2"] and cluster["c1"] != cluster["a1"]
    assert [r["matched_by"] for r in rows] == ["new", "content_hash", "near_duplicate", "new", "new", "external_id"]
    assert _databases(pg_url) == before  # the temporary database is gone
    with psycopg.connect(pg_url) as conn:  # and the system of record was not touched
        assert conn.execute("SELECT count(*) FROM rfqs WHERE source = 'dedup_cli'").fetchone() == (0,)


def test_a_second_run_of_the_same_file_gives_the_same_output(server_env: Settings, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in LINES[:5]), encoding="utf-8")
    first = dedup_jsonl(source, tmp_path / "one.jsonl", server_env)
    second = dedup_jsonl(source, tmp_path / "two.jsonl", server_env)
    assert first.rows == second.rows and first.clusters == 3 and first.duplicates == 2
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "two.jsonl").read_text()


def test_cli_reports_bad_lines_and_still_clusters_the_good_ones(
    server_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "x", "title": "ok"}\nnot json\n[1, 2]\n{"title": "no id"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli.main(["dedup", "--input", str(source), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "line 2: not JSON" in err and "line 3: expected a JSON object" in err and "line 4: missing 'id'" in err
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["x"]
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_labeled_corpus_has_the_expected_shape() -> None:
    records = labeled_records()
    datasets = {r.dataset for r in records}
    assert datasets == {"go4w", "tradekey", "alibaba"}
    assert sum(r.dataset == "go4w" for r in records) == 20
    assert sum(r.dataset == "alibaba" for r in records) == 2000
    assert len({r.group for r in records if r.dataset == "tradekey"}) == 1140


def test_precision_and_recall_on_real_reposts_stay_above_the_measured_floor(server_env: Settings) -> None:
    # Measured with the attribute decision: precision 1.0, recall 1.0 over 318 positive pairs (one buyer's two
    # Alibaba posts of one product are unlabeled, as the labeled cross-marketplace set counts a repost under a new
    # title as one request). The floors leave room for re-fitting the pair model, not for a regression.
    result = evaluate(settings=server_env)
    assert result.records == 3220
    assert result.true_positive_pairs + result.false_negative_pairs == 190 + 128  # go4w C(20,2) + TradeKey slugs
    assert result.recall >= 0.99
    assert result.precision >= 0.98
    assert result.false_positive_pairs <= 6


def test_near_duplicate_recall_on_cross_site_copies_of_real_leads(server_env: Settings) -> None:
    # Generated copies measure the copy rules more than the world (the labeled set is the real measure); kept as a
    # regression floor. Measured: recall 0.900, no false pair. Every lead matches its own copy pairwise; the misses
    # are leads merged with look-alike leads of the 2019 sample (same product, country and container, no buyer
    # named: unlabeled, possibly real reposts) whose other members veto the copy's quantity.
    copies = cross_site_copies()
    assert len(copies) == 240 and all(r.group for r in copies)
    result = evaluate(copies, settings=server_env)
    assert result.by_matched_by.get("near_duplicate", 0) > 100  # the copies join through the attribute decision
    assert result.recall >= 0.85
    assert result.false_positive_pairs == 0
