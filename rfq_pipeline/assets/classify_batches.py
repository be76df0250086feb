"""Classification through the Anthropic Message Batches API, split into submit and results.

``classify/batch_submitted`` sends one batch of a day's unclassified RFQs and records it; it never waits for the
batch. The sensor in :mod:`rfq_pipeline.sensors.classify_batches` polls open batches and, when one ends, requests a
run of ``classify_batch_results_job`` which materializes ``classify/batch_results`` for that batch. The logic lives
in :mod:`rfq_pipeline.ai.anthropic_batches`; these are thin wrappers.
"""

from collections.abc import Iterator

import dagster as dg

from rfq_pipeline.ai import anthropic_batches as batches
from rfq_pipeline.ai.spend import BudgetExceeded
from rfq_pipeline.assets.metadata import counts_table, markdown_table
from rfq_pipeline.automation import DOWNSTREAM_CONDITION
from rfq_pipeline.partitions import daily_partitions
from rfq_pipeline.resources import PostgresResource
from rfq_pipeline.settings import Settings

SUBMITTED_KEY = dg.AssetKey(["classify", "batch_submitted"])
RESULTS_KEY = dg.AssetKey(["classify", "batch_results"])
NORMALIZED_KEY = dg.AssetKey(["rfqs", "normalized"])
CLASSIFIED_KEY = dg.AssetKey(["rfqs", "classified"])
API_TAG = "rfq/api"
BATCH_ID_TAG = "rfq/batch_id"
POOL = "anthropic"
RESULTS_OP = "classify__batch_results"  # the op name Dagster derives from RESULTS_KEY (for run config)


class BatchResultsConfig(dg.Config):
    """Which ended batch a ``classify/batch_results`` run consumes (set by the sensor)."""

    batch_id: str


def results_run_config(batch_id: str) -> dg.RunConfig:
    """Run config for ``classify_batch_results_job`` consuming ``batch_id``."""
    return dg.RunConfig(ops={RESULTS_OP: BatchResultsConfig(batch_id=batch_id)})


def _skip_reason(settings: Settings) -> str | None:
    if not settings.anthropic_api_key:
        return (
            "no ANTHROPIC_API_KEY configured: the Anthropic classifier is off (the local classifier labels RFQs; the "
            "ones it is unsure of wait in the desk's review queue or for `rfq-pipeline label`)"
        )
    return None


def _skipped(context: dg.AssetExecutionContext, reason: str) -> dg.AssetObservation:
    """Nothing was sent: say why in the log and on the asset, leave the partition unmaterialized, keep the run green."""
    context.log.warning(f"{SUBMITTED_KEY.to_user_string()} skipped: {reason}")
    return dg.AssetObservation(asset_key=SUBMITTED_KEY, partition=context.partition_key, metadata={"skipped": reason})


@dg.asset(
    key=SUBMITTED_KEY,
    # After the local model: with RFQ_CLASSIFIER=local the batch takes only what it left uncertain.
    deps=[NORMALIZED_KEY, CLASSIFIED_KEY],
    # Only with a key: without one every run would only record that it skipped.
    automation_condition=DOWNSTREAM_CONDITION if Settings.from_env().anthropic_api_key else None,
    partitions_def=daily_partitions,
    # One batch per day keeps each batch's results inside one partition.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="classification",
    kinds={"anthropic", "postgres"},
    owners=["team:data-acquisition"],
    tags={API_TAG: "anthropic"},
    pool=POOL,
    output_required=False,  # no key / no budget: the run succeeds without a materialization
    description="Submits the day's unclassified RFQs as one Anthropic Message Batch (results arrive later); with "
    "RFQ_CLASSIFIER=local, only the RFQs the local model left uncertain.",
)
def classify_batch_submitted(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Send one Message Batch of the partition's RFQs the Anthropic model version has not labelled yet."""
    settings = Settings.from_env()
    reason = _skip_reason(settings)
    if reason:
        yield _skipped(context, reason)
        return
    window = context.partition_time_window
    version = batches.model_version(settings.anthropic_model)
    client = batches.make_client(settings)
    try:
        with postgres.db.connection() as conn:
            # With the local model as the classifier, Claude settles only what it left uncertain.
            only_uncertain = settings.classifier != "anthropic"
            candidates = batches.candidates_between(
                conn, window.start, window.end, version, only_uncertain=only_uncertain
            )
            report = batches.submit_batch(
                conn,
                client,
                candidates,
                model=settings.anthropic_model,
                limit_usd=settings.llm_daily_limit_usd,
                partition_key=context.partition_key,
                run_id=context.run.run_id,
            )
    except BudgetExceeded as exc:
        yield _skipped(context, str(exc))
        return
    finally:
        client.close()
    if report.batch_id is None:
        yield _skipped(context, report.skipped_reason or "nothing to submit")
        return
    if report.capped_by_budget:
        context.log.warning(f"{report.capped_by_budget} RFQs left for a later batch: today's LLM budget is nearly used")
    context.log.info(f"submitted batch {report.batch_id} with {report.submitted} RFQs")
    yield dg.MaterializeResult(
        metadata={
            "batch_id": report.batch_id,
            "dagster/row_count": report.submitted,
            "candidates": report.candidates,
            "capped_by_budget": report.capped_by_budget,
            "estimated_cost_usd": dg.MetadataValue.float(report.estimated_cost_usd),
            "remaining_budget_usd": dg.MetadataValue.float(round(report.remaining_budget_usd, 4)),
            "model": settings.anthropic_model,
            "model_version": version,
            "scope": "uncertain local labels" if only_uncertain else "every unlabeled RFQ",
        }
    )


@dg.asset(
    key=RESULTS_KEY,
    deps=[SUBMITTED_KEY],
    partitions_def=daily_partitions,
    group_name="classification",
    kinds={"anthropic", "postgres"},
    owners=["team:data-acquisition"],
    tags={API_TAG: "anthropic"},
    pool=POOL,
    # A failed results run is not re-requested by the sensor (its run_key is spent), so retry it here.
    retry_policy=dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL),
    description="Labels from one ended Message Batch; failed items retried in a follow-up batch. Run by the sensor.",
)
def classify_batch_results(
    context: dg.AssetExecutionContext, config: BatchResultsConfig, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Consume the ended batch ``config.batch_id`` and submit its retryable items as a follow-up batch."""
    settings = Settings.from_env()
    if not settings.anthropic_api_key:
        raise dg.Failure(f"batch {config.batch_id} cannot be read: ANTHROPIC_API_KEY is not set")
    client = batches.make_client(settings)
    retry_note: str | None = None
    retry_batch: str | None = None
    try:
        with postgres.db.connection() as conn:
            report = batches.process_results(
                conn,
                client,
                config.batch_id,
                targets=settings.target_industries,
                cross_check=batches.LocalCrossCheck(),
                run_id=context.run.run_id,
            )
        # Always looked for (not only when this run saw retries): a re-run after a failed follow-up submit must
        # still send the items this batch marked for retry.
        try:
            with postgres.db.connection() as conn:
                retried = batches.submit_retries(
                    conn,
                    client,
                    config.batch_id,
                    model=settings.anthropic_model,
                    limit_usd=settings.llm_daily_limit_usd,
                    run_id=context.run.run_id,
                )
            retry_batch, retry_note = retried.batch_id, retried.skipped_reason
        except BudgetExceeded as exc:
            # The items stay 'retry': the next submit of their partition picks them up.
            retry_note = str(exc)
            context.log.warning(retry_note)
    finally:
        client.close()
    if report.already_processed:
        context.log.info(f"batch {config.batch_id} was already processed; nothing written")
    return dg.MaterializeResult(
        metadata={
            "batch_id": config.batch_id,
            "already_processed": report.already_processed,
            "succeeded": report.succeeded,
            "failed": report.failed,
            "retried": report.retry,
            "errored": report.result_types.get("errored", 0),
            "expired": report.result_types.get("expired", 0),
            "canceled": report.result_types.get("canceled", 0),
            "missing": report.result_types.get("missing", 0),
            "malformed": report.malformed,
            "injection_flagged": report.injection_flagged,
            "local_label_kept": report.local_label_kept,
            "dagster/row_count": report.labels_written,
            "spend_usd": dg.MetadataValue.float(report.spend_usd),
            "retry_batch_id": retry_batch or "",
            "retry_note": retry_note or "",
            "result_types": counts_table(report.result_types, "result"),
            "preview": markdown_table(
                report.preview(),
                ["rfq_id", "attempt", "result", "status", "industry", "intent", "relevant", "error", "injection"],
            ),
        }
    )


classify_batch_results_job = dg.define_asset_job(
    "classify_batch_results_job",
    selection=dg.AssetSelection.assets(RESULTS_KEY),
    tags={API_TAG: "anthropic"},
    description="Consumes one ended Anthropic Message Batch (requested by classify_batches_sensor).",
)

batch_assets: list[dg.AssetsDefinition] = [classify_batch_submitted, classify_batch_results]
batch_jobs = [classify_batch_results_job]
