"""One partitioned asset per source, built from the registry by :func:`build_source_asset`.

A run covers one day or a range of days (a backfill runs the whole range at once): the source's listing is read once
for the range, and each day gets its own materialization and metadata. A day older than what the listings show is
not crawled; it stays unmaterialized, with an observation and a warning check that say why.
"""

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
from rfq_pipeline.sources.ingest import DayReport, IngestReport, ingest_range
from rfq_pipeline.sources.quality import lost_field_findings, no_rows_finding
from rfq_pipeline.sources.registry import SOURCES, resolve
from rfq_pipeline.sources.spec import SourceSpec

SOURCE_TAG = "rfq/source"
PAGES_CHECK = "pages_fetched_and_parsed"
ROWS_CHECK = "yields_rows"
FIELDS_CHECK = "fields_still_filled"
REACH_CHECK = "within_listing_reach"
# A run tagged so crawls days the listings' recorded reach rules out (a site whose history has grown).
FORCE_CRAWL_TAG = "rfq/force_crawl"

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
        # A backfill is one run and one crawl of its range: a listing read newest first would otherwise be paged
        # again from its first page for every day.
        backfill_policy=dg.BackfillPolicy.single_run(),
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
            dg.AssetCheckSpec(
                REACH_CHECK,
                asset=key,
                description="Every requested day lies within what the source's listings show; older days are "
                f"reported out of reach and not crawled (tag a run {FORCE_CRAWL_TAG}=true to crawl them anyway).",
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
        days = [date.fromisoformat(k) for k in context.partition_keys]
        if not resolved.crawl_allowed:
            yield from _skipped(context, key, days, resolved.disabled_reason, by_design=True)
            return
        if not resolved.enabled:
            yield from _skipped(context, key, days, f"source disabled by RFQ_SOURCE_{spec.name.upper()}_ENABLED")
            return
        force = context.run.tags.get(FORCE_CRAWL_TAG, "").lower() in ("1", "true", "yes")
        client = http.get_client(resolved.impersonate)
        try:
            report = ingest_range(
                resolved,
                days,
                db=postgres.db,
                store=raw_pages.get_store(),
                client=client,
                run_id=context.run.run_id,
                force=force,
            )
        finally:
            client.close()
        if report.status == "skipped":
            assert report.crawl is not None
            yield from _skipped(context, key, days, report.crawl.unavailable or "circuit breaker open")
            return
        failures = [
            {"url": f.url, "kind": f.page_kind, "reason": f.reason, "detail": f.detail}
            for f in (report.crawl.failures if report.crawl else [])
        ]
        if report.status == "failed":
            raise dg.Failure(
                description=f"{spec.name}: no page of {days[0]}..{days[-1]} could be collected "
                f"({failures[0]['reason']})",
                metadata={"failures": markdown_table(failures, ["url", "kind", "reason", "detail"])},
            )
        with postgres.db.connection() as conn:
            baseline = repository.recent_crawls(conn, spec.name, context.run.run_id)
        read = [d for d in report.days if d.status != "out_of_reach"]
        for day_report in report.days:
            if day_report.status == "out_of_reach":
                context.log.warning(f"{key.to_user_string()} {day_report.day} is out of reach: {day_report.note}")
                yield dg.AssetObservation(
                    asset_key=key,
                    partition=day_report.day.isoformat(),
                    metadata={"skipped": f"out of reach: {day_report.note}", "status": "out_of_reach"},
                )
        if len(read) == len(report.days):
            # The step's output, so steps downstream in the same run go on; each day gets its own metadata.
            for day_report in read:
                context.add_asset_metadata(
                    _day_metadata(report, day_report, resolved), partition_key=day_report.day.isoformat()
                )
            yield dg.MaterializeResult()
        else:
            # An output would mark every day of the run materialized, the days out of reach too: the days read are
            # materialized one by one, and steps downstream in the same run wait for a run without such days.
            for day_report in read:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=key,
                        partition=day_report.day.isoformat(),
                        metadata=_day_metadata(report, day_report, resolved),
                    )
                )
        yield from _checks(report, failures, baseline)

    return _source_asset


def _skipped(
    context: dg.AssetExecutionContext, key: dg.AssetKey, days: list[date], reason: str, *, by_design: bool = False
) -> Iterator[AssetEvent]:
    """Nothing was fetched: say why in the log, on the asset and on its checks, and leave the partitions missing.

    A source that is off by design (its site may not be crawled) is not a problem to warn about: its checks pass
    and say why nothing is there.
    """
    if by_design:
        context.log.info(f"{key.to_user_string()} is not crawled: {reason}")
    else:
        context.log.warning(f"{key.to_user_string()} skipped: {reason}")
    for day in days:
        yield dg.AssetObservation(asset_key=key, partition=day.isoformat(), metadata={"skipped": reason})
    for check in (PAGES_CHECK, ROWS_CHECK, FIELDS_CHECK, REACH_CHECK):
        yield dg.AssetCheckResult(
            check_name=check,
            passed=by_design,
            severity=dg.AssetCheckSeverity.WARN,
            description=reason if by_design else None,
            metadata={"skipped": reason},
        )


def _day_metadata(report: IngestReport, day_report: DayReport, spec: SourceSpec) -> dict[str, object]:
    """One day's materialization metadata: its own rows and status, and the range crawl it was read in."""
    crawl = report.crawl
    assert crawl is not None and report.fetch is not None and report.window is not None
    counts = day_report.counts
    rows = [
        {
            "external_id": f.rfq.external_id,
            "title": f.rfq.title,
            "quantity": f.rfq.quantity_text,
            "country": f.rfq.country_raw,
            "posted_at": f.rfq.posted_at.isoformat() if f.rfq.posted_at else f.rfq.posted_text,
        }
        for f in day_report.found
    ]
    first, last = report.window
    return {
        "dagster/row_count": counts.seen,
        "rfqs_new": counts.inserted,
        "rfqs_already_known": counts.seen - counts.inserted,
        "rfqs_changed": counts.changed,
        "status": day_report.status,
        "status_note": day_report.note,
        "stopped_by": report.stopped_by,
        "crawl_window": f"{first.isoformat()}..{last.isoformat()}" if first != last else first.isoformat(),
        "crawl_status": report.status,
        "pages_fetched": crawl.pages_fetched,
        "pages_failed": crawl.pages_failed,
        "parse_failures": crawl.count("truncated", "layout_drift"),
        "challenges_or_blocks": crawl.count("challenge"),
        "robots_disallowed": report.fetch.robots_blocked,
        "http_requests": report.fetch.requests,
        "rate_limit_wait_s": round(report.rate_wait_s, 2),
        "stopped_by_breaker": crawl.unavailable or "",
        "base_url": spec.base_url,
        "listings": markdown_table(
            [{"listing": listing, **summary} for listing, summary in crawl.listing_summary().items()],
            ["listing", "pages_read", "stopped_by", "oldest_seen", "stopped"],
            limit=50,
        ),
        "pages_read_by_fallback": len(crawl.fallback_pages),
        "evidence": spec.evidence,
        "field_fill": dg.MetadataValue.json(day_report.field_fill),
        "countries": counts_table(Counter(r["country"] or "(none)" for r in rows), "country"),
        "preview": markdown_table(rows, ["external_id", "title", "quantity", "country", "posted_at"]),
    }


def _checks(
    report: IngestReport, failures: list[dict[str, str]], baseline: list[tuple[int, dict]]
) -> Iterator[dg.AssetCheckResult]:
    crawl = report.crawl
    fallback_pages = crawl.fallback_pages if crawl else []
    partial = [d for d in report.days if d.status == "partial" and d.note]
    unavailable = crawl.unavailable if crawl else None
    problems = []
    if fallback_pages:
        problems.append(f"layout drift: fallback extractor used on {len(fallback_pages)} pages")
    if partial:
        problems.append(f"{len(partial)} days not read whole ({partial[0].note})")
    days_table = markdown_table(
        [{"day": d.day.isoformat(), "status": d.status, "rows": d.counts.seen, "note": d.note} for d in report.days],
        ["day", "status", "rows", "note"],
        limit=400,
    )
    yield dg.AssetCheckResult(
        check_name=PAGES_CHECK,
        passed=not failures and not unavailable and not fallback_pages and not partial,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={
            "stopped_by": report.stopped_by,
            "crawl_status": report.status,
            "pages_fetched": crawl.pages_fetched if crawl else 0,
            "pages_failed": len(failures),
            "pages_read_by_fallback": len(fallback_pages),
            "fallback_pages": dg.MetadataValue.json(fallback_pages[:50]),
            "stopped_by_breaker": unavailable or "",
            "listings": dg.MetadataValue.json(crawl.listing_summary() if crawl else {}),
            "failures": markdown_table(failures, ["url", "kind", "reason", "detail"]),
        },
    )
    read_days = [d for d in report.days if d.status != "out_of_reach"]
    seen = sum(d.counts.seen for d in read_days)
    no_rows = no_rows_finding(seen, baseline) if read_days else None
    yield dg.AssetCheckResult(
        check_name=ROWS_CHECK,
        passed=no_rows is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=no_rows or (None if read_days else "no day was crawled: every day is out of reach"),
        metadata={
            "rows": seen,
            "days_read": len(read_days),
            "stopped_by": report.stopped_by,
            "baseline_crawls": len(baseline),
            "days": days_table,
        },
    )
    lost = lost_field_findings(seen, report.field_fill, baseline)
    yield dg.AssetCheckResult(
        check_name=FIELDS_CHECK,
        passed=not lost,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(lost) or None,
        metadata={"field_fill": dg.MetadataValue.json(report.field_fill), "baseline_crawls": len(baseline)},
    )
    beyond = [d for d in report.days if d.status == "out_of_reach"]
    reach = report.reach_recorded
    yield dg.AssetCheckResult(
        check_name=REACH_CHECK,
        passed=not beyond,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(beyond)} of {len(report.days)} days out of reach, not crawled: {beyond[0].note}" if beyond else None
        ),
        metadata={
            "out_of_reach_days": dg.MetadataValue.json([d.day.isoformat() for d in beyond]),
            "reach_recorded": dg.MetadataValue.json(
                {r.listing: {"oldest_day": r.oldest_day.isoformat(), "stopped_by": r.stopped_by} for r in reach}
            ),
            "force_with_tag": f"{FORCE_CRAWL_TAG}=true",
        },
    )


source_assets: list[dg.AssetsDefinition] = [build_source_asset(spec) for spec in SOURCES.values()]
