"""The sensor that turns an ended Anthropic Message Batch into a run of ``classify/batch_results``.

Why a sensor requesting a run, rather than processing results inside the sensor or an asset that waits:

- A sensor tick must stay short and side-effect-light: each tick makes one cheap ``retrieve`` per open batch (a
  client with one retry and a 10 s timeout) and records the status; it never downloads results or writes labels.
- Consuming results is real work with writes (labels, spend, retries) that deserves a run: logs, retries
  (``RetryPolicy`` on the asset), a materialization with metadata, lineage, and the ``anthropic`` pool.
- ``run_key=<batch id>`` makes the request exactly-once per batch: Dagster drops a RunRequest whose run_key this
  sensor already used, so re-polling an ended batch on later ticks requests nothing new. Should a run be lost or
  re-executed by hand anyway, the results step is idempotent on its own (items leave ``pending`` once; labels and
  spend are ``ON CONFLICT DO NOTHING``).
- State lives in ``llm_batches`` (PostgreSQL), not in the sensor cursor, so the submit asset, the sensor and the
  results run agree on one source of truth.
"""

import dagster as dg

from rfq_pipeline.ai import anthropic_batches as batches
from rfq_pipeline.assets.classify_batches import (
    API_TAG,
    BATCH_ID_TAG,
    classify_batch_results_job,
    results_run_config,
)
from rfq_pipeline.resources import PostgresResource
from rfq_pipeline.settings import Settings

SENSOR_NAME = "classify_batches_sensor"
POLL_INTERVAL_S = 60
POLL_TIMEOUT_S = 10.0


@dg.sensor(
    name=SENSOR_NAME,
    job=classify_batch_results_job,
    minimum_interval_seconds=POLL_INTERVAL_S,
    default_status=(
        dg.DefaultSensorStatus.RUNNING if Settings.from_env().schedules_running else dg.DefaultSensorStatus.STOPPED
    ),
    description="Polls open Anthropic Message Batches; requests a classify/batch_results run when one ends.",
)
def classify_batches_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult | dg.SkipReason:
    """One retrieve per open batch; a RunRequest (run_key = batch id) for each ended, unconsumed batch."""
    settings = Settings.from_env()
    if not settings.anthropic_api_key:
        return dg.SkipReason("no ANTHROPIC_API_KEY configured: no Anthropic batches to poll")
    client = batches.make_client(settings, max_retries=1, timeout_s=POLL_TIMEOUT_S)

    def on_error(batch_id: str, exc: Exception) -> None:
        context.log.warning(f"poll of batch {batch_id} failed ({type(exc).__name__}); polling again next tick")

    try:
        with postgres.db.connection() as conn:
            ready = batches.ended_unprocessed(conn, client, on_error=on_error)
    finally:
        client.close()
    if not ready:
        return dg.SkipReason("no ended Message Batch is waiting to be processed")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=batch["batch_id"],
                partition_key=batch["partition_key"],
                run_config=results_run_config(batch["batch_id"]),
                tags={API_TAG: "anthropic", BATCH_ID_TAG: batch["batch_id"]},
            )
            for batch in ready
        ]
    )


batch_sensors: list[dg.SensorDefinition] = [classify_batches_sensor]
