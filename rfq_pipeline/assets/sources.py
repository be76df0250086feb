"""One partitioned asset per source, built from the registry by :func:`build_source_asset`."""

from collections import Counter
from collections.abc import Iterator
from datetime import date

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.ingest import ingest_partition
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec

SOURCE_TAG = "rfq/source"
PAGES_CHECK = "pages_fetched_and_parsed"


def source_asset_key(name: str) -> dg.AssetKey:
    """``source/<name>``."""
    return dg.AssetKey(["source", name])


def build_source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """The asset that collects ``spec``'s RFQs for one posting-date partition."""
    key = source_asset_key(spec.name)

    @dg.asset(
        key=key,
        partitions_def=daily_partitions,
        group_name="sources",
        kinds={"python", "postgres"},
        owners=["team:data-acquisition"],
        tags={SOURCE_TAG: spec.name, "rfq/source_kind": spec.kind},
        pool=f"marketplace_{spec.name}",
        description=spec.description,
        metadata={
            "site": dg.MetadataValue.url(spec.site_url),
            "cadence": spec.cadence,
            "detail_pattern": spec.detail_pattern,
            "rate_per_minute": spec.rate_per_minute,
        },
        check_specs=[
            dg.AssetCheckSpec(
                PAGES_CHECK,
                asset=key,
                description="Every page of the crawl was fetched and parsed (no challenge, truncation or drift).",
            )
        ],
    )
    def _source_asset(
        context: dg.AssetExecutionContext,
        postgres: PostgresResource,
        raw_pages: ObjectStoreResource,
        http: HttpClientResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        resolved = resolve(spec, Settings.from_env())
        day = date.fromisoformat(context.partition_key)
        if not resolved.enabled:
            context.log.warning(f"{spec.name} is disabled by RFQ_SOURCE_{spec.name.upper()}_ENABLED; nothing fetched")
            yield dg.MaterializeResult(metadata={"skipped": "source disabled by configuration"})
            yield dg.AssetCheckResult(check_name=PAGES_CHECK, passed=True, metadata={"skipped": True})
            return
        client = http.get_client()
        try:
            report = ingest_partition(
                resolved, day, db=postgres.db, store=raw_pages.get_store(), client=client, run_id=context.run.run_id
            )
        finally:
            client.close()
        crawl = report.crawl
        failures = [{"url": f.url, "kind": f.page_kind, "reason": f.reason, "detail": f.detail} for f in crawl.failures]
        if report.status == "failed":
            raise dg.Failure(
                description=f"{spec.name}: no page of {day} could be collected ({failures[0]['reason']})",
                metadata={"failures": markdown_table(failures, ["url", "kind", "reason", "detail"])},
            )
        rows = [
            {
                "external_id": f.rfq.external_id,
                "title": f.rfq.title,
                "quantity": f.rfq.quantity_text,
                "country": f.rfq.country_raw,
                "posted_at": f.rfq.posted_at.isoformat() if f.rfq.posted_at else f.rfq.posted_text,
            }
            for f in crawl.found
        ]
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.counts.seen,
                "rfqs_new": report.counts.inserted,
                "rfqs_changed": report.counts.changed,
                "pages_fetched": crawl.pages_fetched,
                "pages_failed": crawl.pages_failed,
                "base_url": resolved.base_url,
                "stop_reasons": dg.MetadataValue.json(crawl.stop_reasons),
                "countries": counts_table(Counter(r["country"] or "(none)" for r in rows), "country"),
                "preview": markdown_table(rows, ["external_id", "title", "quantity", "country", "posted_at"]),
            }
        )
        yield dg.AssetCheckResult(
            check_name=PAGES_CHECK,
            passed=not failures,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "pages_failed": len(failures),
                "failures": markdown_table(failures, ["url", "kind", "reason", "detail"]),
            },
        )

    return _source_asset


source_assets: list[dg.AssetsDefinition] = [build_source_asset(spec) for spec in SOURCES.values()]
