"""The ``rfqs/normalized`` stage: one posting-day of RFQs from every source, cleaned with polars."""

from collections import Counter
from collections.abc import Iterator

import dagster as dg

from rfq_pipeline.assets.imports import IMPORTS_KEY
from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.assets.sources import source_asset_key
from rfq_pipeline.automation import downstream_condition
from rfq_pipeline.normalize.rfqs import NORMALIZER_VERSION
from rfq_pipeline.normalize.stage import normalize_window
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import PostgresResource
from rfq_pipeline.sources.registry import SOURCES

COUNTRY_CHECK = "countries_resolved"
MIN_COUNTRY_SHARE = 0.9


@dg.asset(
    key=dg.AssetKey(["rfqs", "normalized"]),
    # Marketplaces, and the intake of e-mail and uploaded documents. A source whose site may not be crawled
    # (Global Sources) produces nothing of its own: its RFQs come through the mail intake.
    deps=[
        *(source_asset_key(name) for name, spec in SOURCES.items() if spec.crawl_allowed),
        dg.AssetKey(["intake", "email"]),
        dg.AssetKey(["intake", "uploads"]),
        IMPORTS_KEY,
    ],
    partitions_def=daily_partitions,
    # An archive spans years: import_stages_sensor runs the days it loaded, automation does not re-run a month.
    automation_condition=downstream_condition(ignore=dg.AssetSelection.assets(IMPORTS_KEY)),
    # Normalizing is one SQL read and one write per batch: a backfill of a month is cheaper as one run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="rfqs",
    kinds={"polars", "postgres"},
    owners=["team:data-acquisition"],
    description="Quantities and units, ISO countries, posting dates and clean titles for every RFQ of the day.",
    check_specs=[
        dg.AssetCheckSpec(
            COUNTRY_CHECK,
            asset=dg.AssetKey(["rfqs", "normalized"]),
            description=f"At least {MIN_COUNTRY_SHARE:.0%} of the day's RFQs have a recognized country.",
        )
    ],
)
def rfqs_normalized(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Normalize the RFQs posted in the run's partitions (one day, or a backfilled range), from all sources at once."""
    window = context.partition_time_window
    start, end = window.start, window.end
    with postgres.db.connection() as conn:
        result = normalize_window(conn, start, end)
    frame, normalized, updated = result.frame, result.normalized, result.updated
    total = normalized.height
    with_country = normalized["country_code"].drop_nulls().len() if total else 0
    with_quantity = normalized["quantity_value"].drop_nulls().len() if total else 0
    joined = frame.select("id", "source", "quantity_text").join(normalized, on="id") if total else normalized
    preview = joined.head(10).to_dicts() if total else []
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "rows_updated": updated,
            "normalizer_version": NORMALIZER_VERSION,
            "by_source": counts_table(Counter(frame["source"].to_list()), "source"),
            "units": counts_table(Counter(u or "(none)" for u in normalized["quantity_unit"].to_list()), "unit"),
            "countries": counts_table(Counter(c or "(none)" for c in normalized["country_code"].to_list()), "country"),
            "with_quantity": with_quantity,
            "with_country": with_country,
            "preview": markdown_table(
                preview,
                ["source", "title_clean", "quantity_text", "quantity_value", "quantity_unit", "country_code"],
            ),
        }
    )
    share = with_country / total if total else 1.0
    yield dg.AssetCheckResult(
        check_name=COUNTRY_CHECK,
        passed=share >= MIN_COUNTRY_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"share_with_country": round(share, 4), "rows": total},
    )
