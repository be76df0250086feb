"""``make run``: migrate, start the marketplace simulator, materialize the whole graph for one day, summarize."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

from rfq_pipeline.db import migrations, repository
from rfq_pipeline.db.database import Database, resolve_database_url
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.ingest import day_window


@dataclass(frozen=True)
class RunSummary:
    """What one local run did, per source and per stage."""

    day: date
    success: bool
    rows: list[dict[str, object]]
    check_failures: list[str]
    intake: str = ""
    quotes: str = ""

    def render(self) -> str:
        """A short plain-text table for the terminal."""
        lines = [f"rfq-pipeline run for {self.day.isoformat()}: {'succeeded' if self.success else 'FAILED'}"]
        header = ("rfqs on day", "new this run", "normalized", "classified", "relevant", "uncertain", "duplicates",
                  "rfqs total")  # fmt: skip
        columns = (
            "rfqs_on_day",
            "new_this_run",
            "normalized_on_day",
            "classified_on_day",
            "relevant_on_day",
            "uncertain_on_day",
            "duplicates_on_day",
            "rfqs_total",
        )
        lines.append(f"{'source':<20}" + "".join(f"{h:>13}" for h in header))
        for row in self.rows:
            lines.append(f"{row['source']!s:<20}" + "".join(f"{row.get(c, 0)!s:>13}" for c in columns))
        for failure in self.check_failures:
            lines.append(f"check failed: {failure}")
        if self.intake:
            lines.append(self.intake)
        if self.quotes:
            lines.append(self.quotes)
        return "\n".join(lines)


def _intake_demo(instance: dg.DagsterInstance, day: date, settings: Settings) -> str:
    """Mail, upload and scrape-request intake on a local AWS, unless a real one is configured."""
    if settings.aws_endpoint_url or settings.aws_region:
        return "intake: AWS is configured, so the local mail demo is skipped (the sensors read the real queues)"
    import importlib.util

    if importlib.util.find_spec("moto") is None:  # moto comes with the `local` extra that `make install` installs
        return "intake: local AWS unavailable (moto is not installed); install with `pip install -e '.[local]'`"
    from rfq_pipeline.devtools.intake_demo import run_intake_demo

    return run_intake_demo(instance, day).render()


def _quotes_summary(conn: object, start: datetime, end: datetime) -> str:
    """Buyers and drafts of the day, and where the PDFs of the drafts ready for approval are."""
    from rfq_pipeline.enrich.store import buyers_between
    from rfq_pipeline.quotes.store import drafts_between

    buyers = buyers_between(conn, start, end)  # type: ignore[arg-type]
    drafts = drafts_between(conn, start, end)  # type: ignore[arg-type]
    ready = [d for d in drafts if d["state"] == "queued" and not d["needs_review"] and d["guardrails_passed"]]
    high = sum(1 for b in buyers if b["risk_level"] == "high")
    lines = [
        f"buyers: {len(buyers)} enriched ({high} high risk); quote drafts: {len(drafts)}, "
        f"{len(ready)} ready to approve, {sum(1 for d in drafts if d['needs_review'])} need review"
    ]
    for draft in ready[:5]:
        lines.append(
            f"  draft #{draft['id']}: {draft['title'][:50]!r} {draft['currency']} {draft['total']}"
            f" -> {draft['pdf_uri']}"
        )
    if drafts:
        lines.append("  review and send them on the sales desk: `make ui`, then http://127.0.0.1:3100")
    return "\n".join(lines)


def _exports_summary(result: dg.ExecuteInProcessResult, settings: Settings) -> str:
    """Rows per exported table and the analysts' DuckDB file, with a query to try."""
    from rfq_pipeline.exports.writer import default_duckdb_path

    try:
        exported = result.asset_materializations_for_node("exports_daily")
    except dg.DagsterInvariantViolationError:
        return ""
    if not exported:
        return ""
    rows = {m.asset_key.path[-1]: m.metadata["dagster/row_count"].value for m in exported}
    shown = ", ".join(f"{name} {count}" for name, count in rows.items())
    return (
        f"\nexports: {shown} -> {default_duckdb_path(settings)}"
        "\n  try: rfq-pipeline sql --file sql/analyst/new_relevant_rfqs_per_source_per_day.sql"
    )


def run_local(day: date | None = None, *, use_simulator: bool = True) -> RunSummary:
    """Materialize every asset for ``day`` (default: today, UTC) on the configured database and object store.

    With ``use_simulator`` (and no ``RFQ_SIMULATOR_URL`` already set) a marketplace simulator is started on a free
    loopback port for the duration of the run, so the run needs no internet.
    """
    day = day or datetime.now(UTC).date()
    # One in-process run materializes assets with different backfill policies and beta parameters; Dagster warns
    # about both on every load, which would bury the summary. Definitions are validated by the test suite instead.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", message=".*(varying BackfillPolicies|multiple backfill policies).*")
    simulator = None
    saved_dns = os.environ.get("RFQ_DNS_SERVER")
    if use_simulator and saved_dns is None:
        # The demo asks nothing of the outside world, DNS included: its buyers' addresses are then `unknown` (not
        # checked) rather than `invalid`, and the desk asks the rep to confirm one before a quote goes to it.
        os.environ["RFQ_DNS_SERVER"] = "off"
    if use_simulator and not os.environ.get("RFQ_SIMULATOR_URL"):
        from rfq_pipeline.devtools.simulator import start_simulator

        simulator = start_simulator(today=day)
        os.environ["RFQ_SIMULATOR_URL"] = simulator.url
    try:
        settings = Settings.from_env()
        url = resolve_database_url(settings)
        migrations.migrate(url, settings.migrations_dir)

        from rfq_pipeline.definitions import pipeline_assets, resources

        # The database's clock, not ours: "new" is first_seen_at >= this moment.
        with Database(url, min_size=1, max_size=1) as db, db.connection() as conn:
            started = conn.execute("SELECT now()").fetchone()[0]
        instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        # Intake first, so the mailed and uploaded RFQs of the day flow through the same stages as the marketplaces'.
        intake = _intake_demo(instance, day, settings) if use_simulator else ""
        result = dg.materialize(
            pipeline_assets,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            raise_on_error=False,
            tags={"rfq/trigger": "make-run"},
            # The summary below is the output; step-by-step events stay in the run's log in the UI.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        check_failures = [
            f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed
        ]
        start, end = day_window(day)
        from rfq_pipeline.ai.model_registry import current_classifier
        from rfq_pipeline.store.object_store import object_store_for

        with Database(url, min_size=1, max_size=1) as db, db.connection() as conn:
            models = object_store_for("models", settings)
            version = current_classifier(
                conn, models, settings.target_industries, settings.models_cache_dir
            ).model_version
            rows = repository.counts_for_day(conn, day, start, end, version, since=started)
            quotes = _quotes_summary(conn, start, end) + _exports_summary(result, settings)
        return RunSummary(
            day=day,
            success=result.success and "intake run failed" not in intake,
            rows=rows,
            check_failures=check_failures,
            intake=intake,
            quotes=quotes,
        )
    finally:
        if simulator is not None:
            simulator.stop()
            os.environ.pop("RFQ_SIMULATOR_URL", None)
        if saved_dns is None:
            os.environ.pop("RFQ_DNS_SERVER", None)
