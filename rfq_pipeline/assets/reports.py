"""The ``reports/daily`` asset: the last two weeks' leads per source, relevance mix, duplicate rate and quotes sent,
as a chart and tables in the asset's metadata (a thin wrapper of ``rfq_pipeline.reports``)."""

import base64
from datetime import date

import dagster as dg

from rfq_pipeline.assets.metadata import markdown_table
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource

DRAFTS_KEY = dg.AssetKey(["quotes", "drafts"])
REPORT_KEY = dg.AssetKey(["reports", "daily"])


@dg.asset(
    key=REPORT_KEY,
    deps=[DRAFTS_KEY],
    partitions_def=daily_partitions,
    automation_condition=DOWNSTREAM_CONDITION,
    group_name="reports",
    kinds={"postgres", "png"},
    owners=["team:sales-ops"],
    description="Leads per source per day over the 14 days ending with the partition, the relevance mix, the "
    "duplicate rate, the drafts made and the quotes sent per day: a chart (also saved as PNG under reports/daily/ in "
    "the exports store) and tables in the metadata.",
)
def reports_daily(
    context: dg.AssetExecutionContext, postgres: PostgresResource, exports: ObjectStoreResource
) -> dg.MaterializeResult:
    """Build the report of the run's partition (a backfill runs one partition per run, one report per day)."""
    from rfq_pipeline.reports.daily import daily_report, render_chart

    day = date.fromisoformat(context.partition_key)
    with postgres.db.connection() as conn:
        report = daily_report(conn, day)
    png = render_chart(report)
    key = f"reports/daily/date={day.isoformat()}/leads_per_source.png"
    uri = exports.get_store().put(key, png, content_type="image/png")
    totals = report.totals()
    chart = f"![RFQs per source and quotes sent per day](data:image/png;base64,{base64.b64encode(png).decode()})"
    return dg.MaterializeResult(
        metadata={
            "window": f"{report.start.isoformat()} .. {day.isoformat()}",
            "rfqs": totals["rfqs"],
            "relevant_share": totals["relevant_share"],
            "duplicate_rate": totals["duplicate_rate"],
            "drafts": totals["drafts"],
            "quotes_sent": totals["quotes_sent"],
            "chart": dg.MetadataValue.md(chart),
            "chart_uri": uri,
            "by_source": markdown_table(
                report.by_source(), ["source", "rfqs", "relevant", "duplicate_rate", "drafts"], limit=20
            ),
            "quotes_sent_per_day": markdown_table(report.sent_per_day(), ["day", "quotes_sent"], limit=20),
        }
    )


report_assets = [reports_daily]
