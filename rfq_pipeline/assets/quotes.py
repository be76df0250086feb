"""The ``catalog/products`` and ``quotes/drafts`` stages: thin wrappers over ``rfq_pipeline.quotes``."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.automation import downstream_condition
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings

if TYPE_CHECKING:
    from rfq_pipeline.quotes.composer import Composer

CATALOG_KEY = dg.AssetKey(["catalog", "products"])
BUYERS_KEY = dg.AssetKey(["buyers", "enriched"])
DRAFTS_KEY = dg.AssetKey(["quotes", "drafts"])
GUARDRAILS_CHECK = "guardrails_passed"
PDF_CHECK = "pdf_matches_draft"


@dg.asset(
    key=CATALOG_KEY,
    # A changed file is picked up within the hour; a missing load happens at once.
    automation_condition=dg.AutomationCondition.on_missing() | dg.AutomationCondition.on_cron("0 * * * *"),
    group_name="quotes",
    kinds={"csv", "postgres"},
    owners=["team:sales-ops"],
    description="The product catalog (SKU, aliases, unit, MOQ, tier prices, stock, discount cap) loaded from the CSV "
    "at RFQ_CATALOG_PATH; the pricer reads only these rows, and every priced line cites one.",
)
def catalog_products(postgres: PostgresResource) -> dg.MaterializeResult:
    """Validate the catalog file (every error names its row and column) and load it."""
    from rfq_pipeline.quotes.catalog import CatalogError, parse_catalog
    from rfq_pipeline.quotes.store import catalog_version, load_catalog_rows

    path = Path(Settings.from_env().catalog_path)
    try:
        text = path.read_text(encoding="utf-8")
        catalog = parse_catalog(text, path.name)
    except (OSError, CatalogError) as error:
        raise dg.Failure(f"catalog {path.name} not loaded: {error}") from error
    version = catalog_version(text)
    with postgres.db.connection() as conn:
        load = load_catalog_rows(conn, catalog, version)
    rows = [
        {
            "sku": i.sku,
            "name": i.name,
            "unit": i.unit,
            "moq": i.moq,
            "price_1": i.tiers[0].unit_price,
            "stock": i.stock,
            "max_discount_pct": i.max_discount_pct,
        }
        for i in catalog.items
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": load.products,
            "catalog_version": version,
            "path": path.name,
            "changed": load.changed,
            "retired": load.retired,
            "categories": counts_table(Counter(i.category for i in catalog.items), "category"),
            "preview": markdown_table(rows, list(rows[0]), limit=15),
        },
        data_version=dg.DataVersion(version),
    )


@dg.asset(
    key=DRAFTS_KEY,
    deps=[BUYERS_KEY, CATALOG_KEY],
    partitions_def=daily_partitions,
    # New buyers start drafting; a catalog reload does not re-draft a month of days (drafts keep their prices).
    automation_condition=downstream_condition(ignore=dg.AssetSelection.assets(CATALOG_KEY)),
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="quotes",
    kinds={"postgres", "pdf"},
    owners=["team:sales-ops"],
    description="A priced, guard-railed quote draft per enriched cluster: line items matched to catalog SKUs, the "
    "staged pricer (tier, currency, discount cap, incoterm), a cover text checked by four guardrails (template "
    "fallback), and a preview PDF. Drafts wait in state queued for a person (`rfq-pipeline quote approve ID`); with "
    "a quotes Slack webhook, each new draft is posted with approve/open buttons into the desk.",
    check_specs=[
        dg.AssetCheckSpec(
            GUARDRAILS_CHECK, asset=DRAFTS_KEY, description="Every draft of the partition passed all four guardrails."
        ),
        dg.AssetCheckSpec(
            PDF_CHECK,
            asset=DRAFTS_KEY,
            description="The text extracted from each PDF rendered by the run carries its SKUs, prices and total.",
        ),
    ],
)
def quotes_drafts(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    quote_pdfs: ObjectStoreResource,
    http: HttpClientResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Draft the enriched clusters of the run's partitions that have no draft yet, and post each new one to Slack."""
    from rfq_pipeline.quotes.catalog import load_rates
    from rfq_pipeline.quotes.dispatch import DispatchResult, SlackWebhook, post_new_drafts
    from rfq_pipeline.quotes.pdf import pdf_text
    from rfq_pipeline.quotes.store import drafts_between
    from rfq_pipeline.quotes.workflow import draft_partition

    settings = Settings.from_env()
    window = context.partition_time_window
    store = quote_pdfs.get_store()
    now = datetime.now(UTC)
    posts: dict[int, DispatchResult] = {}
    with ExitStack() as stack:
        composer: Composer | None = None
        question_composer: Callable[..., str] | None = None
        if settings.quote_composer == "anthropic":
            from rfq_pipeline.quotes.clarify import ClaudeQuestionComposer
            from rfq_pipeline.quotes.claude_composer import ClaudeComposer

            composer = _claude_composer(settings, stack, postgres, context.run.run_id, ClaudeComposer)
            question_composer = _claude_composer(settings, stack, postgres, context.run.run_id, ClaudeQuestionComposer)
        with postgres.db.connection() as conn:
            run = draft_partition(
                conn,
                window.start,
                window.end,
                rates=load_rates(settings.fx_rates_path),
                pdf_store=store,
                now=now,
                incoterm=settings.quote_incoterm,
                composer=composer,
                question_composer=question_composer,
                run_id=context.run.run_id,
            )
            drafts = drafts_between(conn, window.start, window.end)
            if settings.quotes_slack_webhook_url and run.created:
                # After the drafts are committed: a failed post is counted, never a reason to fail the drafting.
                client = http.get_client(settings.http_impersonate or "chrome")
                stack.callback(client.close)
                slack = SlackWebhook(settings.quotes_slack_webhook_url, client)
                posts = post_new_drafts(conn, settings, slack, run.created, now=now)

    mismatches: list[str] = []
    for draft_id, draft in run.drafts.items():
        text = " ".join(pdf_text(store.get(run.pdfs[draft_id])).split())
        expected = [f"Quotation {draft_id}"]
        for line in draft.priced_lines:
            expected += [line.sku, str(line.unit_price), str(line.total)] if line.unit_price is not None else []
        if draft.total is not None:
            expected.append(str(draft.total))
        missing = [value for value in expected if value not in text]
        if missing:
            mismatches.append(f"draft {draft_id}: {', '.join(missing)}")

    ready = [d for d in drafts if d["state"] == "queued" and not d["needs_review"] and d["guardrails_passed"]]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(drafts),
            "drafted_this_run": len(run.created),
            "ready_to_approve": len(ready),
            "needs_review": sum(1 for d in drafts if d["needs_review"]),
            "states": counts_table(Counter(d["state"] for d in drafts), "state"),
            "cover_source": counts_table(Counter(d["cover_source"] for d in drafts), "cover_source"),
            "cover_composer": settings.quote_composer,
            "slack": "on" if settings.quotes_slack_webhook_url else "off (no quotes webhook)",
            "slack_posted": sum(1 for r in posts.values() if r.delivered),
            "slack_failed": sum(1 for r in posts.values() if not r.delivered),
            "slack_failures": dg.MetadataValue.json({str(i): r.detail for i, r in posts.items() if not r.delivered}),
            "quoted_value": dg.MetadataValue.json(_totals(drafts)),
            "preview": markdown_table(
                drafts, ["id", "title", "buyer_company", "risk_level", "currency", "total", "needs_review", "state"]
            ),
        }
    )
    failed = [d["id"] for d in drafts if not d["guardrails_passed"]]
    yield dg.AssetCheckResult(
        check_name=GUARDRAILS_CHECK,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"drafts": len(drafts), "failed": dg.MetadataValue.json(failed)},
    )
    yield dg.AssetCheckResult(
        check_name=PDF_CHECK,
        passed=not mismatches,
        metadata={"pdfs_checked": len(run.drafts), "mismatches": dg.MetadataValue.json(mismatches[:20])},
    )


def _claude_composer(
    settings: Settings, stack: ExitStack, postgres: PostgresResource, run_id: str, kind: type[Any]
) -> Callable[[Any], str]:
    """A Claude composer (cover texts, or clarifying questions) on its own ledger connection, committed after every
    call; closed with ``stack``."""
    from rfq_pipeline.ai.anthropic_batches import make_client

    # compose_with_guardrails already tries three times, so the SDK's own retries are kept short.
    client = make_client(settings, max_retries=1, timeout_s=30.0)
    stack.callback(client.close)
    ledger = stack.enter_context(postgres.db.connection())
    claude = kind.from_settings(settings, client, ledger, run_id=run_id)

    def compose(draft: Any) -> str:
        try:
            return claude(draft)
        finally:
            # At once, not at the end of the run: the kill-switch sees the spend, and a run that fails later keeps
            # the record of calls that were billed.
            ledger.commit()

    return compose


def _totals(drafts: list[dict]) -> dict[str, str]:
    totals: dict[str, float] = {}
    for draft in drafts:
        if draft["total"] is not None:
            totals[draft["currency"]] = totals.get(draft["currency"], 0.0) + float(draft["total"])
    return {currency: f"{value:,.2f}" for currency, value in sorted(totals.items())}


quote_assets = [catalog_products, quotes_drafts]
