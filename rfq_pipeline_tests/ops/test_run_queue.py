"""The run queue of dagster.yaml: one run per marketplace at a time, the global cap, and the queue drains.

Drives Dagster's own dequeue loop in-process, as Dagster's tests do
(dagster_tests/daemon_tests/test_queued_run_coordinator_daemon.py): QueuedRunCoordinatorDaemon.run_iteration with
MockedRunLauncher, which records launches without executing anything. These are Dagster internals of the pinned
version (1.13.27); a Dagster upgrade may need this file adjusted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRunStatus, RunsFilter
from dagster._core.test_utils import create_run_for_test, create_test_daemon_workspace_context
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from rfq_pipeline.assets.sources import SOURCE_TAG
from rfq_pipeline.ops.concurrency import instance_settings
from rfq_pipeline.sources.registry import SOURCES

SETTINGS = instance_settings()
MAX_RUNS = SETTINGS["concurrency"]["runs"]["max_concurrent_runs"]
# Queued runs need a job origin; MockedRunLauncher never loads it.
ORIGIN = RemoteJobOrigin(
    repository_origin=RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("rfq_pipeline"), "__repository__"),
    job_name="source_job",
)


@pytest.fixture()
def queue() -> Iterator[tuple[dg.DagsterInstance, WorkspaceProcessContext]]:
    overrides = {**SETTINGS, "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}}
    with (
        dg.instance_for_test(overrides=overrides) as instance,
        create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as context,
    ):
        yield instance, context


def _enqueue(instance: dg.DagsterInstance, context: WorkspaceProcessContext, tags: dict[str, str]) -> str:
    run = create_run_for_test(
        instance, job_name="source_job", status=DagsterRunStatus.NOT_STARTED, tags=tags, remote_job_origin=ORIGIN
    )
    queued = instance.run_coordinator.submit_run(SubmitRunContext(run, context.create_request_context()))
    assert queued.status == DagsterRunStatus.QUEUED
    return run.run_id


def _in_progress(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)))


def _queued(instance: dg.DagsterInstance) -> int:
    return instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))


def _finish(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    for event_type in (DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS):
        instance.report_dagster_event(DagsterEvent(event_type.value, job_name=run.job_name), run_id=run.run_id)


def _iterate(context: WorkspaceProcessContext, daemon: QueuedRunCoordinatorDaemon) -> None:
    list(daemon.run_iteration(context))


def test_the_yaml_limits_are_what_the_queue_uses(queue):
    instance, _ = queue
    config = instance.get_concurrency_config().run_queue_config
    assert config is not None and config.max_concurrent_runs == MAX_RUNS == 8
    limits = {(lim["key"], str(lim.get("value"))): lim["limit"] for lim in config.tag_concurrency_limits}
    assert limits[(SOURCE_TAG, str({"applyLimitPerUniqueValue": True}))] == 1
    assert limits[("rfq/api", "anthropic")] == 1
    assert limits[("rfq/api", "enrichment")] == 2


def test_one_run_per_marketplace_under_the_global_cap_and_the_queue_drains(queue):
    instance, context = queue
    sources = list(SOURCES)
    assert len(sources) >= 4
    # 6 runs each for ec21 and tradekey, queued first so they crowd the head of the queue; 6 more over other sources.
    names = ["ec21"] * 6 + ["tradekey"] * 6 + [s for s in sources if s not in {"ec21", "tradekey"}][:6]
    run_ids = [_enqueue(instance, context, {SOURCE_TAG: name}) for name in names]
    total = len(run_ids)

    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    finished = 0
    max_together = 0
    for _ in range(4 * total):
        _iterate(context, daemon)
        running = _in_progress(instance)
        per_source = Counter(run.tags[SOURCE_TAG] for run in running)
        assert all(n <= 1 for n in per_source.values()), per_source
        assert len(running) <= MAX_RUNS
        max_together = max(max_together, len(per_source))
        if not running and not _queued(instance):
            break
        # Finish the oldest in-progress run (others keep their slot through the next iteration).
        oldest = min(running, key=lambda r: run_ids.index(r.run_id))
        _finish(instance, oldest)
        finished += 1
    assert finished == total
    assert _queued(instance) == 0 and not _in_progress(instance)
    launched = instance.run_launcher.queue()
    assert sorted(r.run_id for r in launched) == sorted(run_ids)
    assert max_together >= 3, "different marketplaces should be crawled at the same time"


def test_the_global_cap_holds_when_every_run_is_another_source(queue):
    instance, context = queue
    for i in range(20):
        _enqueue(instance, context, {SOURCE_TAG: f"source_{i}"})
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    _iterate(context, daemon)
    assert len(_in_progress(instance)) == MAX_RUNS
    _iterate(context, daemon)
    assert len(_in_progress(instance)) == MAX_RUNS
    assert _queued(instance) == 20 - MAX_RUNS


def test_api_limits_one_anthropic_run_and_two_enrichment_runs(queue):
    instance, context = queue
    for _ in range(4):
        _enqueue(instance, context, {"rfq/api": "anthropic"})
        _enqueue(instance, context, {"rfq/api": "enrichment"})
    _iterate(context, QueuedRunCoordinatorDaemon(interval_seconds=1))
    running = Counter(run.tags["rfq/api"] for run in _in_progress(instance))
    assert running == Counter({"anthropic": 1, "enrichment": 2})


def test_a_run_without_the_source_tag_is_not_limited_by_it(queue):
    """Documents why UI backfills (no rfq/source run tag) rely on the marketplace pool instead."""
    instance, context = queue
    for _ in range(3):
        _enqueue(instance, context, {"dagster/partition": "2026-11-20"})
    _iterate(context, QueuedRunCoordinatorDaemon(interval_seconds=1))
    assert len(_in_progress(instance)) == 3
