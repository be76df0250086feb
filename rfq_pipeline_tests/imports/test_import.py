"""Archive import: layouts, mappings, bad rows, idempotency, posting order, the command and the stages after it.

The layouts are tried on the real samples (the first rows of the Alibaba RFQ-board CSV and of the go4WorldBusiness
records, copied with their header) and on an export written by this project's own export schema.
"""

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg
import pytest

from rfq_pipeline.db.database import Database
from rfq_pipeline.devtools.simulator.catalog import CORPUS
from rfq_pipeline.imports.loader import ImportRefused, ImportReport, import_archives, read_archives
from rfq_pipeline.imports.mapping import MappingError, load_mapping

REAL = CORPUS  # the project's copies of the real samples (provenance in the corpus README)
REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _alibaba_sample(tmp_path: Path, rows: int = 40) -> Path:
    lines = (REAL / "alibaba_rfq_uae_2025-07.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "alibaba.csv"
    path.write_text("".join(lines[: rows + 1]), encoding="utf-8")
    return path


def _read(paths: list[Path], mapping_path: Path | None = None) -> tuple[list, ImportReport]:
    report = ImportReport(source="archive")
    mapping = load_mapping(mapping_path) if mapping_path else None
    return read_archives(paths, "archive", mapping, report, now=NOW), report


def test_the_alibaba_board_csv_is_recognised_and_read_in_posting_order(tmp_path: Path) -> None:
    rfqs, report = _read([_alibaba_sample(tmp_path)])
    with (REAL / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert report.layouts == ["alibaba_rfq_csv"] and report.bad_rows == 0 and len(rfqs) == 40
    row = next(r for r in rfqs if r.external_id == first["RFQ ID"])
    assert (row.title, row.quantity_text, row.country_raw) == (
        first["Title"], first["Quantity Required"], first["Country"]
    )  # fmt: skip
    assert row.canonical_url == first["Inquiry URL"] and row.buyer_name == first["Buyer Name"]
    day, month, year = first["Inquiry Date"].split("-")
    assert row.posted_at == datetime(int(year), int(month), int(day), tzinfo=UTC)
    # What the mapping does not read is kept; the scrape's own bookkeeping is not.
    assert row.attributes["Quotes Left"] == first["Quotes Left"] and "Scraping Date" not in row.attributes
    posted = [r.posted_at for r in rfqs if r.posted_at]
    assert posted == sorted(posted)  # the board lists newest first; the import writes oldest first


def test_go4world_records_and_the_projects_own_export_are_recognised(tmp_path: Path) -> None:
    records = (REAL / "go4w_buyers_2019.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    jsonl = tmp_path / "go4w.jsonl"
    jsonl.write_text("\n".join(records) + "\n", encoding="utf-8")
    export = tmp_path / "rfqs.parquet"
    pl.DataFrame(
        {
            "rfq_id": [7], "source": ["tradekey"], "external_id": ["123"], "canonical_url": ["https://x/bo-123"],
            "title": ["Argan oil"], "buyer_company": ["Atlas Trading"], "quantity_value": [200.0],
            "quantity_unit": ["kg"], "country_code": ["AE"], "country_name": ["United Arab Emirates"],
            "posted_at": [datetime(2025, 3, 1, 8, tzinfo=UTC)], "cluster_id": [3],
        }
    ).write_parquet(export)  # fmt: skip
    rfqs, report = _read([jsonl, export])
    assert report.layouts == ["go4worldbusiness_jsonl", "rfq_pipeline_export"] and report.bad_rows == 0
    first = json.loads(records[0])
    go4w = next(r for r in rfqs if r.external_id == first["record_id"])
    assert go4w.country_raw == first["buyerCountry"] and go4w.title
    exported = next(r for r in rfqs if r.external_id == "tradekey:123")
    assert (exported.title, exported.quantity_text, exported.country_raw) == ("Argan oil", "200 kg",
                                                                              "United Arab Emirates")  # fmt: skip
    assert exported.posted_at == datetime(2025, 3, 1, 8, tzinfo=UTC) and "cluster_id" not in exported.attributes


def test_bad_rows_are_reported_by_line_and_column_and_the_rest_load(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "columns:\n  title: Product\n  posted: Date\n  external_id: Ref\n  quantity: [Qty, Unit]\n"
        "date_format: '%d/%m/%Y'\n",
        encoding="utf-8",
    )
    archive = tmp_path / "leads.csv"
    archive.write_text(
        "Ref,Product,Date,Qty,Unit,Note\n"
        "A1,Rose water,03/02/2025,500,litres,first\n"  # line 2
        "A2,,04/02/2025,1,kg,\n"  # line 3: no title
        'A3,"Argan oil\nextra line",31/02/2025,1,kg,\n'  # lines 4-5: an impossible date
        "A4,Shea butter,05/02/2025,2,t,x,surplus\n"  # line 6: a field too many
        ",Henna,06/02/2025,3,kg,\n"  # line 7: no id
        "A6,Face masks,06/02/2099,3,kg,\n"  # line 8: in the future
        "A7,Lip balm,,10,pcs,undated\n",  # line 9
        encoding="utf-8",
    )
    rfqs, report = _read([archive], mapping)
    errors = {(e.line, e.column) for e in report.errors}
    assert errors == {(3, "Product"), (4, "Date"), (6, "-"), (7, "Ref"), (8, "Date")}
    assert [r.external_id for r in rfqs] == ["A1", "A7"] and report.bad_rows == 5 and report.rows_read == 7
    assert rfqs[0].quantity_text == "500 litres" and rfqs[0].attributes == {"Note": "first"}
    assert rfqs[1].posted_at is None and report.day_ranges() == [(datetime(2025, 2, 3).date(),) * 2,
                                                                (NOW.date(), NOW.date())]  # fmt: skip


def test_unknown_layouts_and_bad_mappings_are_refused_with_the_reason(tmp_path: Path) -> None:
    archive = tmp_path / "leads.csv"
    archive.write_text("Ref,Product\nA1,Rose water\n", encoding="utf-8")
    with pytest.raises(MappingError, match="columns not recognised"):
        _read([archive])
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("columns:\n  title: Name\n", encoding="utf-8")
    with pytest.raises(MappingError, match="lacks: Name"):
        _read([archive], wrong)
    typo = tmp_path / "typo.yaml"
    typo.write_text("columns:\n  title: Product\n  titel: Ref\n", encoding="utf-8")
    with pytest.raises(MappingError, match="unknown field"):
        load_mapping(typo)
    with pytest.raises(ValueError, match="unknown format"):
        _read([tmp_path / "leads.txt"])


def test_an_excel_export_loads_with_its_numbers_as_ids(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Ref", "Product", "Date", "Country"])
    sheet.append([1681369478, "Vitamin C serum", datetime(2025, 5, 2, 9, 30), "Oman"])
    sheet.append([None, None, None, None])
    sheet.append([1681369479.0, "Body lotion", "2025-05-03", "Qatar"])
    path = tmp_path / "leads.xlsx"
    book.save(path)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns: {title: Product, posted: Date, external_id: Ref, country: Country}\n", "utf-8")
    rfqs, report = _read([path], mapping)
    assert [(r.external_id, r.country_raw) for r in rfqs] == [("1681369478", "Oman"), ("1681369479", "Qatar")]
    assert rfqs[0].posted_at == datetime(2025, 5, 2, 9, 30, tzinfo=UTC) and report.bad_rows == 0


def test_a_second_import_changes_nothing_and_an_edited_archive_updates(clean_db: str, tmp_path: Path) -> None:
    path = _alibaba_sample(tmp_path, rows=300)
    with Database(clean_db, max_size=1) as db:
        first = import_archives(db, [path], "alibaba_archive")
        again = import_archives(db, [path], "alibaba_archive")
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        edits = sum("1 Piece/Pieces" in line for line in lines[1:])
        path.write_text("".join(line.replace("1 Piece/Pieces", "2 Piece/Pieces") for line in lines), "utf-8")
        edited = import_archives(db, [path], "alibaba_archive")
        with pytest.raises(ImportRefused, match="registered marketplace"):
            import_archives(db, [path], "alibaba_rfq")
    with psycopg.connect(clean_db) as conn:
        ids = conn.execute(
            "SELECT posted_at FROM rfqs WHERE source = 'alibaba_archive' AND posted_at IS NOT NULL ORDER BY id"
        ).fetchall()
        kind = conn.execute("SELECT kind FROM sources WHERE name = 'alibaba_archive'").fetchone()[0]
    assert (first.inserted, first.changed) == (300, 0)
    assert (again.inserted, again.changed, again.unchanged) == (0, 0, 300)
    assert edits > 10 and (edited.inserted, edited.changed, edited.unchanged) == (0, edits, 300 - edits)
    assert [r[0] for r in ids] == sorted(r[0] for r in ids) and kind == "loader"


def test_the_import_command_reports_bad_rows_and_exits_1(clean_db: str, tmp_path: Path) -> None:
    archive = tmp_path / "leads.jsonl"
    archive.write_text(
        '{"record_id": "r1", "buyerProductName": "Rose water", "buyerText": "Rose water 500 L", '
        '"buyerCompanyName": "Atlas", "buyerCountry": "Morocco", "date": "Mar-02-25"}\n'
        "{not json\n"
        '{"record_id": "r3", "buyerProductName": "", "buyerText": "", "buyerCompanyName": "X", '
        '"buyerCountry": "Oman", "date": "Mar-03-25"}\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RFQ_", "DAGSTER_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=clean_db, RFQ_DATA_DIR=str(tmp_path / "data"))
    command = [str(Path(sys.executable).parent / "rfq-pipeline"), "import", str(archive), "--source", "leads",
               "--no-stages", "--errors", str(tmp_path / "bad.txt")]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "loaded 1 (1 new" in result.stdout and "bad 2" in result.stdout
    assert (tmp_path / "bad.txt").read_text(encoding="utf-8").splitlines() == [
        "leads.jsonl:2: -: not JSON (Expecting property name enclosed in double quotes at column 2)",
        "leads.jsonl:3: buyerProductName, buyerText: empty: an RFQ needs a title",
    ]
    refused = subprocess.run([*command[:3], "--source", "Bad Name"], cwd=REPO_ROOT, env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode == 2 and "import refused: source 'Bad Name'" in refused.stderr


def test_the_stages_run_once_over_the_imported_days(pipeline_env, tmp_path: Path) -> None:
    """normalize -> classify -> embed -> clusters for the imported days, in one run with a materialization per day."""
    import dagster as dg

    from rfq_pipeline.imports.pipeline import run_stages

    path = _alibaba_sample(tmp_path, rows=60)
    with Database(os.environ["DATABASE_URL"], max_size=1) as db:
        report = import_archives(db, [path], "alibaba_archive")
    first, last = report.day_ranges()[0]
    with dg.instance_for_test() as instance:
        stages = run_stages(first, last, instance)
        runs = instance.get_runs()
        days = instance.get_materialized_partitions(dg.AssetKey(["rfqs", "clusters"]))
    assert stages.success and len(runs) == 1, stages.render()
    assert days == {d.isoformat() for d in _days(first, last)}
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        done = conn.execute(
            "SELECT count(*) FILTER (WHERE r.normalized_at IS NOT NULL), count(DISTINCT c.rfq_id), "
            "count(DISTINCT m.rfq_id) FROM rfqs r LEFT JOIN classifications c ON c.rfq_id = r.id "
            "LEFT JOIN dedup_cluster_members m ON m.rfq_id = r.id WHERE r.posted_at IS NOT NULL"
        ).fetchone()
    dated = 60 - report.undated
    assert done == (dated, dated, dated)


def _days(first, last) -> list:
    from datetime import timedelta

    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_the_documented_mapping_example_is_a_valid_mapping(tmp_path: Path) -> None:
    text = (REPO_ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "map.yaml"
    path.write_text("\n".join(line.removeprefix("  ") for line in block.splitlines()), encoding="utf-8")
    mapping = load_mapping(path)
    assert mapping.columns["quantity"] == ("Qty", "Unit") and mapping.date_format == "%d/%m/%Y"
    assert mapping.ignore == ("Internal notes",)
