"""One partitioned asset per source, built from the registry by :func:`build_source_asset`."""

from collections import Counter
from collections.abc import Iterator
from datetime import date

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.automation import freshness_for
from rfq_pipeline.db import repository
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.ingest import IngestReport, ingest_partition
from rfq_pipeline.sources.quality import lost_field_findings, no_rows_finding
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec

SOURCE_TAG = "rfq/source"
PAGES_CHECK = "pages_fetched_and_parsed"
ROWS_CHECK = "yields_rows"
FIELDS_CHECK = "fields_still_filled"

AssetEvent = dg.MaterializeResult | dg.AssetCheckResult | dg.AssetObservation


def source_asset_key(name: str) -> dg.AssetKey:
    """``source/<name>``."""
    return dg.AssetKey(["source", name])


def build_source_asset(spec: SourceSpec) -> dg.AssetsDefinition:
    """The asset that collects ``spec``'s RFQs for one posting-date partition."""
    key = source_asset_key(spec.name)

    @dg.asset(
        key=key,
        partitions_def=daily_partitions,
        # A partition is one crawl: one run per day keeps each run short and inside the per-source queue limit.
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
        group_name="sources",
        kinds={"python", "postgres", "s3"},
        owners=["team:data-acquisition"],
        tags={SOURCE_TAG: spec.name, "rfq/source_kind": spec.kind},
        pool=f"marketplace_{spec.name}",
        freshness_policy=freshness_for(spec.cadence),
        description=spec.describe(),
        output_required=False,  # an open circuit breaker skips the run without a materialization
        metadata={
            "site": dg.MetadataValue.url(spec.site_url),
            "evidence": spec.evidence,
            "fixtures": dg.MetadataValue.json(list(spec.fixtures)),
            "known_gaps": dg.MetadataValue.json(list(spec.known_gaps)),
            "enabled_by_default": spec.enabled,
            "disabled_reason": spec.disabled_reason,
            "cadence": spec.cadence,
            "detail_pattern": spec.detail_pattern,
            "date_sorted_listing": spec.date_sorted,
            "rate_per_minute": spec.rate_per_minute,
            "burst": spec.burst,
            "respects_robots_txt": spec.respect_robots,
        },
        check_specs=[
            dg.AssetCheckSpec(
                PAGES_CHECK,
                asset=key,
                description="Every page was fetched and parsed by the source's selectors: no challenge, block, "
                "truncation or layout drift (a page read by the fallback extractor warns).",
            ),
            dg.AssetCheckSpec(
                ROWS_CHECK, asset=key, description="The crawl found rows when recent crawls of the source usually do."
            ),
            dg.AssetCheckSpec(
                FIELDS_CHECK,
                asset=key,
                description="No field that recent crawls filled (country, quantity, ...) is suddenly empty.",
            ),
        ],
    )
    def _source_asset(
        context: dg.AssetExecutionContext,
        postgres: PostgresResource,
        raw_pages: ObjectStoreResource,
        http: HttpClientResource,
    ) -> Iterator[AssetEvent]:
        resolved = resolve(spec, Settings.from_env())
        day = date.fromisoformat(context.partition_key)
        if not resolved.crawl_allowed:
            yield from _skipped(context, key, resolved.disabled_reason, by_design=True)
            return
        if not resolved.enabled:
            yield from _skipped(context, key, f"source disabled by RFQ_SOURCE_{spec.name.upper()}_ENABLED")
            return
        client = http.get_client(resolved.impersonate)
        try:
            report = ingest_partition(
                resolved, day, db=postgres.db, store=raw_pages.get_store(), client=client, run_id=context.run.run_id
            )
        finally:
            client.close()
        if report.status == "skipped":
            yield from _skipped(context, key, report.crawl.unavailable or "circuit breaker open")
            return
        failures = [
            {"url": f.url, "kind": f.page_kind, "reason": f.reason, "detail": f.detail} for f in report.crawl.failures
        ]
        if report.status == "failed":
            raise dg.Failure(
                description=f"{spec.name}: no page of {day} could be collected ({failures[0]['reason']})",
                metadata={"failures": markdown_table(failures, ["url", "kind", "reason", "detail"])},
            )
        with postgres.db.connection() as conn:
            baseline = repository.recent_crawls(conn, spec.name, context.run.run_id)
        yield _materialization(report, resolved)
        yield from _checks(report, failures, baseline)

    return _source_asset


def _skipped(
    context: dg.AssetExecutionContext, key: dg.AssetKey, reason: str, *, by_design: bool = False
) -> Iterator[AssetEvent]:
    """Nothing was fetched: say why in the log, on the asset and on its checks, and leave the partition missing.

    A source that is off by design (its site may not be crawled) is not a problem to warn about: its checks pass
    and say why nothing is there.
    """
    if by_design:
        context.log.info(f"{key.to_user_string()} is not crawled: {reason}")
    else:
        context.log.warning(f"{key.to_user_string()} skipped: {reason}")
    yield dg.AssetObservation(asset_key=key, partition=context.partition_key, metadata={"skipped": reason})
    for check in (PAGES_CHECK, ROWS_CHECK, FIELDS_CHECK):
        yield dg.AssetCheckResult(
            check_name=check,
            passed=by_design,
            severity=dg.AssetCheckSeverity.WARN,
            description=reason if by_design else None,
            metadata={"skipped": reason},
        )


def _materialization(report: IngestReport, spec: SourceSpec) -> dg.MaterializeResult:
    crawl, counts = report.crawl, report.counts
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
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts.seen,
            "rfqs_new": counts.inserted,
            "rfqs_already_known": counts.seen - counts.inserted,
            "rfqs_changed": counts.changed,
            "pages_fetched": crawl.pages_fetched,
            "pages_failed": crawl.pages_failed,
            "parse_failures": crawl.count("truncated", "layout_drift"),
            "challenges_or_blocks": crawl.count("challenge"),
            "robots_disallowed": report.fetch.robots_blocked,
            "http_requests": report.fetch.requests,
            "rate_limit_wait_s": round(report.rate_wait_s, 2),
            "status": report.status,
            "stopped_by_breaker": crawl.unavailable or "",
            "base_url": spec.base_url,
            "listings": markdown_table(
                [{"listing": listing, **summary} for listing, summary in crawl.listing_summary().items()],
                ["listing", "pages_read", "stopped"],
                limit=50,
            ),
            "pages_read_by_fallback": len(crawl.fallback_pages),
            "evidence": spec.evidence,
            "field_fill": dg.MetadataValue.json(report.field_fill),
            "countries": counts_table(Counter(r["country"] or "(none)" for r in rows), "country"),
            "preview": markdown_table(rows, ["external_id", "title", "quantity", "country", "posted_at"]),
        }
    )


def _checks(
    report: IngestReport, failures: list[dict[str, str]], baseline: list[tuple[int, dict]]
) -> Iterator[dg.AssetCheckResult]:
    fallback_pages = report.crawl.fallback_pages
    yield dg.AssetCheckResult(
        check_name=PAGES_CHECK,
        passed=not failures and not report.crawl.unavailable and not fallback_pages,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"layout drift: fallback extractor used on {len(fallback_pages)} pages" if fallback_pages else None
        ),
        metadata={
            "pages_failed": len(failures),
            "pages_read_by_fallback": len(fallback_pages),
            "fallback_pages": dg.MetadataValue.json(fallback_pages[:50]),
            "stopped_by_breaker": report.crawl.unavailable or "",
            "failures": markdown_table(failures, ["url", "kind", "reason", "detail"]),
        },
    )
    no_rows = no_rows_finding(report.counts.seen, baseline)
    yield dg.AssetCheckResult(
        check_name=ROWS_CHECK,
        passed=no_rows is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=no_rows,
        metadata={"rows": report.counts.seen, "baseline_crawls": len(baseline)},
    )
    lost = lost_field_findings(report.counts.seen, report.field_fill, baseline)
    yield dg.AssetCheckResult(
        check_name=FIELDS_CHECK,
        passed=not lost,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(lost) or None,
        metadata={"field_fill": dg.MetadataValue.json(report.field_fill), "baseline_crawls": len(baseline)},
    )


source_assets: list[dg.AssetsDefinition] = [build_source_asset(spec) for spec in SOURCES.values()]
