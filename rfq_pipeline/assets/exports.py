"""The ``exports/<table>`` assets: each day's Parquet files for analysts and the DuckDB file over them (a thin wrapper
of ``rfq_pipeline.exports``). One step exports every table of a day from one snapshot, so the tables agree."""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from rfq_pipeline.assets.metadata import markdown_table
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings

# Each exported table after the stage that writes what it holds.
EXPORT_DEPS: dict[str, dg.AssetKey] = {
    "rfqs": dg.AssetKey(["rfqs", "clusters"]),  # carries cluster_id and is_duplicate
    "classifications": dg.AssetKey(["rfqs", "classified"]),
    "clusters": dg.AssetKey(["rfqs", "clusters"]),
    "buyers": dg.AssetKey(["buyers", "enriched"]),
    "contacts": dg.AssetKey(["buyers", "enriched"]),
    "quote_drafts": dg.AssetKey(["quotes", "drafts"]),
    "quote_draft_events": dg.AssetKey(["quotes", "drafts"]),
    "source_health": dg.AssetKey(["rfqs", "normalized"]),
    "quote_outcomes": dg.AssetKey(["quotes", "drafts"]),
}
READ_BACK_CHECK = "duckdb_reads_the_export"


def export_key(table: str) -> dg.AssetKey:
    """The asset key of one exported table."""
    return dg.AssetKey(["exports", table])


def _specs() -> list[dg.AssetSpec]:
    from rfq_pipeline.exports.tables import ALL, TABLES

    return [
        dg.AssetSpec(
            export_key(name),
            deps=[EXPORT_DEPS[name]],
            description=f"{TABLES[name].description} Parquet per posting day (exports/{name}/date=YYYY-MM-DD/), a "
            "view of the analysts' DuckDB file.",
            group_name="exports",
            kinds={"parquet", "duckdb"},
            owners=["team:analytics"],
            automation_condition=DOWNSTREAM_CONDITION,
            skippable=False,
        )
        for name in ALL
    ]


@dg.multi_asset(
    name="exports_daily",
    specs=_specs(),
    partitions_def=daily_partitions,
    # Days are exported one after the other and the DuckDB file is rebuilt once at the end of the run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            READ_BACK_CHECK,
            asset=export_key("rfqs"),
            description="The rebuilt DuckDB file's views return, for each exported day, the rows just written.",
        )
    ],
)
def exports_daily(
    context: dg.AssetExecutionContext, postgres: PostgresResource, exports: ObjectStoreResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Export each day of the run's partitions, then rebuild the DuckDB file and read the days back through it."""
    import duckdb
    import polars as pl

    from rfq_pipeline.exports.tables import ALL, SCHEMA_VERSION
    from rfq_pipeline.exports.writer import (
        ExportOptions,
        build_duckdb,
        default_duckdb_path,
        export_day,
        export_root,
    )

    settings = Settings.from_env()
    store = exports.get_store()
    options = ExportOptions.from_settings(settings)
    days = [date.fromisoformat(key) for key in context.partition_keys]
    reports = [export_day(postgres.db, store, day, options=options) for day in days]
    path = default_duckdb_path(settings)
    build = build_duckdb(export_root(store), path)

    for name in ALL:
        written = [t for report in reports for t in report.tables if t.table == name]
        last = written[-1]
        preview = pl.read_parquet(store.get(last.key)).head(5)
        yield dg.MaterializeResult(
            asset_key=export_key(name),
            metadata={
                "dagster/row_count": sum(t.rows for t in written),
                "bytes": sum(t.bytes for t in written),
                "days": len(written),
                "last_file": last.uri,
                "schema_version": SCHEMA_VERSION,
                "duckdb": str(path),
                "rows_over_all_days": build.tables[name].rows,
                "preview": markdown_table(preview.to_dicts(), preview.columns[:8], limit=5),
            },
        )
    # DuckDB's FROM-first form: the schema-parity scan sends only PostgreSQL statements (those starting SELECT) on.
    with duckdb.connect(str(path), read_only=True) as con:
        found = {day: con.execute("FROM rfqs SELECT count(*) WHERE date = ?", [day]).fetchone()[0] for day in days}
    expected = {report.day: next(t.rows for t in report.tables if t.table == "rfqs") for report in reports}
    mismatched = {d.isoformat(): [expected[d], found[d]] for d in days if found[d] != expected[d]}
    yield dg.AssetCheckResult(
        check_name=READ_BACK_CHECK,
        asset_key=export_key("rfqs"),
        passed=not mismatched,
        metadata={"days": len(days), "mismatched": dg.MetadataValue.json(mismatched)},
    )


export_assets = [exports_daily]
