"""The ``buyers/enriched`` stage: one buyer per relevant dedup cluster (a thin wrapper of ``rfq_pipeline.enrich``)."""


from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import HttpClientResource, PostgresResource
from rfq_pipeline.settings import Settings

CLUSTERS_KEY = dg.AssetKey(["rfqs", "clusters"])
BUYERS_KEY = dg.AssetKey(["buyers", "enriched"])
ENRICHED_CHECK = "every_relevant_cluster_enriched"
_MAX_PAGES_PER_BUYER = 3


def page_fetcher(settings: Settings, client: Any) -> Any:
    """Domain -> {url: text} over the SSRF-guarded fetch, or ``None`` when page fetching is off."""
    if not settings.enrich_fetch_pages:
        return None
    from rfq_pipeline.enrich.pages import buyer_pages, fetch_page
    from rfq_pipeline.enrich.ssrf import Allow

    allow = Allow.of(networks=settings.fetch_allow_networks)

    def fetch(domain: str) -> Mapping[str, str]:
        pages: dict[str, str] = {}
        for url in buyer_pages(domain)[:_MAX_PAGES_PER_BUYER]:
            page = fetch_page(client, url, allow)
            if page.ok and page.text:
                pages[page.url] = page.text
        return pages

    return fetch


def email_checks(settings: Settings, client: Any) -> tuple[Any, Any]:
    """The MX resolver (DNS when reachable) and the mailbox provider (when a key is set) for this run."""
    from rfq_pipeline.enrich.enrichment import RunScopedResolver, system_nameserver
    from rfq_pipeline.enrich.verify import MillionVerifier, UdpDnsResolver, ZeroBounce

    server = settings.dns_server if settings.dns_server is not None else system_nameserver()
    resolver = RunScopedResolver(UdpDnsResolver(server)) if server and server != "off" else None
    provider = None
    if settings.millionverifier_api_key:
        provider = MillionVerifier(settings.millionverifier_api_key, client)
    elif settings.zerobounce_api_key:
        provider = ZeroBounce(settings.zerobounce_api_key, client)
    return resolver, provider


@dg.asset(
    key=BUYERS_KEY,
    deps=[CLUSTERS_KEY],
    partitions_def=daily_partitions,
    automation_condition=DOWNSTREAM_CONDITION,
    # Rate-limited lookups (DNS, e-mail verification, the Claude research agent): a replay goes one day per run,
    # queued under the enrichment pool, while the set-based stages before it take a month in one run.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    pool="enrichment",
    group_name="enrichment",
    kinds={"postgres"},
    owners=["team:sales-ops"],
    description="The buyer behind each relevant request, once per dedup cluster: company and domain, contacts with "
    "evidence, e-mail verification (unknown unless a check confirmed it) and a risk score with its reasons. The "
    "Claude research agent adds evidence-backed findings when an API key is set.",
    check_specs=[
        dg.AssetCheckSpec(
            ENRICHED_CHECK,
            asset=BUYERS_KEY,
            description="Every active cluster with a relevant RFQ of the partition has its buyer.",
        )
    ],
)
def buyers_enriched(
    context: dg.AssetExecutionContext, postgres: PostgresResource, http: HttpClientResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Enrich the relevant clusters of the run's partitions that have no buyer yet."""
    from rfq_pipeline.enrich.enrichment import ENRICHER_VERSION, enrich_cluster
    from rfq_pipeline.enrich.research import researcher_from_settings
    from rfq_pipeline.enrich.store import buyers_between, clusters_to_enrich, write_buyer

    settings = Settings.from_env()
    window = context.partition_time_window
    with postgres.db.connection() as conn:
        clusters = clusters_to_enrich(conn, window.start, window.end)
    client = http.get_client(settings.http_impersonate or "chrome")
    methods: Counter[str] = Counter()
    try:
        fetcher = page_fetcher(settings, client)
        resolver, provider = email_checks(settings, client)
        with postgres.db.connection() as ledger:
            researcher = researcher_from_settings(settings, ledger, client, run_id=context.run.run_id)
            for cluster in clusters:
                profile, method, record = enrich_cluster(
                    cluster, fetch_pages=fetcher, resolver=resolver, provider=provider, researcher=researcher
                )
                with postgres.db.connection() as conn:
                    written = write_buyer(
                        conn,
                        cluster,
                        profile,
                        method=method,
                        enricher_version=ENRICHER_VERSION,
                        research=record,
                        run_id=context.run.run_id,
                    )
                methods[method if written else "already_enriched"] += 1
                ledger.commit()  # the agent's spend rows, so the kill-switch sees them at once
    finally:
        client.close()
    with postgres.db.connection() as conn:
        buyers = buyers_between(conn, window.start, window.end)
        missing = clusters_to_enrich(conn, window.start, window.end)
    preview = [
        {**b, "risk_reasons": ", ".join(r["code"] for r in b["risk_reasons"])}
        for b in sorted(buyers, key=lambda b: -b["risk_score"])
    ]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(buyers),
            "enriched_this_run": sum(v for k, v in methods.items() if k != "already_enriched"),
            "methods": dg.MetadataValue.json(dict(methods)),
            "risk_levels": counts_table(Counter(b["risk_level"] for b in buyers), "risk_level"),
            "email_status": counts_table(Counter(b["email_status"] or "no e-mail" for b in buyers), "email_status"),
            "with_contacts": sum(1 for b in buyers if b["contacts"]),
            "preview": markdown_table(
                preview, ["id", "company", "domain", "country_code", "email_status", "risk_score", "risk_reasons"]
            ),
        }
    )
    yield dg.AssetCheckResult(
        check_name=ENRICHED_CHECK,
        passed=not missing,
        metadata={"clusters_without_buyer": len(missing), "buyers": len(buyers)},
    )


buyer_assets = [buyers_enriched]
