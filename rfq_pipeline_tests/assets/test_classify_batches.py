"""The batch classification assets and sensor in Dagster: submit, poll until ended, consume; and the kill-switch."""

from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.classify_batches import (
    RESULTS_KEY,
    SUBMITTED_KEY,
    batch_assets,
    classify_batch_results,
    classify_batch_submitted,
)
from rfq_pipeline.devtools.anthropic_server import AnthropicServerHandle, start_anthropic_server
from rfq_pipeline.resources import PostgresResource
from rfq_pipeline.sensors.classify_batches import batch_sensors, classify_batches_sensor
from rfq_pipeline_tests.ai.test_anthropic_batches import STANDARD_RFQS, VERSION, keyword_responder, seed_rfqs

PARTITION = "2026-03-10"


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServerHandle]:
    handle = start_anthropic_server(responder=keyword_responder)
    yield handle
    handle.stop()


@pytest.fixture()
def anthropic_env(
    pipeline_env, server: AnthropicServerHandle, monkeypatch: pytest.MonkeyPatch
) -> AnthropicServerHandle:
    server.reset()
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    yield server
    server.reset()


def _materialize(asset: dg.AssetsDefinition, instance: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset], partition_key=PARTITION, instance=instance, resources={"postgres": PostgresResource()}, **kwargs
    )


def _tick(instance: dg.DagsterInstance):
    # as a context manager: Dagster sets PostgresResource up (and tears it down) the way the daemon does
    with dg.build_sensor_context(instance=instance, resources={"postgres": PostgresResource()}) as context:
        return classify_batches_sensor(context)


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # fixed table names from the tests


def test_exports_for_definitions() -> None:
    assert {a.key for a in batch_assets} == {SUBMITTED_KEY, RESULTS_KEY}
    assert classify_batches_sensor in batch_sensors
    defs = dg.Definitions(assets=batch_assets, sensors=batch_sensors, resources={"postgres": PostgresResource()})
    assert defs.get_sensor_def("classify_batches_sensor").minimum_interval_seconds == 60
    spec = classify_batch_submitted.specs_by_key[SUBMITTED_KEY]
    assert spec.group_name == "classification" and spec.tags["rfq/api"] == "anthropic"
    assert dg.AssetKey(["rfqs", "normalized"]) in {d.asset_key for d in spec.deps}
    assert classify_batch_submitted.op.pool == "anthropic" and classify_batch_results.op.pool == "anthropic"


def test_submit_poll_and_results_through_dagster(anthropic_env: AnthropicServerHandle, clean_db: str) -> None:
    ids = seed_rfqs(clean_db, STANDARD_RFQS)
    anthropic_env.fail_items([ids[1]], times=1)
    anthropic_env.set_in_progress_polls(1)
    with dg.instance_for_test() as instance:
        submitted = _materialize(classify_batch_submitted, instance)
        assert submitted.success
        metadata = submitted.asset_materializations_for_node("classify__batch_submitted")[0].metadata
        batch_id = metadata["batch_id"].value
        assert metadata["dagster/row_count"].value == 3

        first = _tick(instance)
        assert isinstance(first, dg.SkipReason)  # still in progress; the tick did not wait
        second = _tick(instance)
        [request] = second.run_requests
        assert request.run_key == batch_id and request.partition_key == PARTITION

        results = _materialize(classify_batch_results, instance, run_config=request.run_config)
        assert results.success
        meta = results.asset_materializations_for_node("classify__batch_results")[0].metadata
        assert (meta["succeeded"].value, meta["errored"].value, meta["retried"].value) == (2, 1, 1)
        assert meta["spend_usd"].value > 0 and "rfq_id" in meta["preview"].value
        retry_batch = meta["retry_batch_id"].value
        assert retry_batch and retry_batch != batch_id

        # the follow-up batch is polled and consumed the same way
        assert isinstance(_tick(instance), dg.SkipReason)
        [retry_request] = _tick(instance).run_requests
        assert retry_request.run_key == retry_batch
        assert _materialize(classify_batch_results, instance, run_config=retry_request.run_config).success

        # a re-delivered run of the first batch writes nothing new
        again = _materialize(classify_batch_results, instance, run_config=request.run_config)
        assert again.asset_materializations_for_node("classify__batch_results")[0].metadata["already_processed"].value
        assert isinstance(_tick(instance), dg.SkipReason)
    with psycopg.connect(clean_db) as conn:
        labelled = conn.execute("SELECT COUNT(*) FROM classifications WHERE model_version = %s", (VERSION,)).fetchone()
    assert labelled[0] == 3
    assert _count(clean_db, "llm_spend") == 3


def test_kill_switch_skips_submit_without_calling_the_api(
    anthropic_env: AnthropicServerHandle, clean_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_rfqs(clean_db, STANDARD_RFQS)
    monkeypatch.setenv("RFQ_LLM_DAILY_LIMIT_USD", "1")
    with psycopg.connect(clean_db) as conn:
        conn.execute(
            "INSERT INTO llm_spend (call_id, provider, model, stage, cost_usd) "
            "VALUES ('earlier', 'anthropic', 'claude-haiku-4-5', 'classify', 1.25)"
        )
    with dg.instance_for_test() as instance:
        result = _materialize(classify_batch_submitted, instance)
        assert result.success  # the rest of the pipeline keeps running
        assert result.asset_materializations_for_node("classify__batch_submitted") == []
        [observation] = result.asset_observations_for_node("classify__batch_submitted")
    skipped = observation.metadata["skipped"].value
    assert "$1.2500" in skipped and "$1.00" in skipped and "RFQ_LLM_DAILY_LIMIT_USD" in skipped
    assert anthropic_env.request_log == []
    assert _count(clean_db, "llm_batches") == 0


def test_without_an_api_key_submit_and_sensor_skip(pipeline_env, clean_db: str) -> None:
    seed_rfqs(clean_db, STANDARD_RFQS)
    with dg.instance_for_test() as instance:
        result = _materialize(classify_batch_submitted, instance)
        assert result.success
        [observation] = result.asset_observations_for_node("classify__batch_submitted")
        assert "ANTHROPIC_API_KEY" in observation.metadata["skipped"].value
        assert isinstance(_tick(instance), dg.SkipReason)
    assert _count(clean_db, "llm_batches") == 0
