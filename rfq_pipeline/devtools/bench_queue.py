"""``make bench``: the run queue of dagster.yaml scheduling a 30-day backfill of every source.

Enqueues one run per source per day (tagged ``rfq/source`` like the source jobs' runs) through the real
QueuedRunCoordinator configured from dagster.yaml, and drives Dagster's own dequeue loop
(QueuedRunCoordinatorDaemon.run_iteration) in-process with MockedRunLauncher, which launches nothing. Run durations
are simulated: each source has a deterministic duration (a few simulated minutes, varied per day) and a simulated
clock jumps to the next run end, which is then reported finished. So this measures the queue's scheduling (which
runs it lets go together and how fast the loop is), not the crawl. Dagster internals of the pinned 1.13.27.
"""

from __future__ import annotations

import logging
import random
import time
import zlib
from collections import Counter
from datetime import date, timedelta

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES, DagsterRunStatus, RunsFilter
from dagster._core.test_utils import create_run_for_test, create_test_daemon_workspace_context
from dagster._core.workspace.load_target import EmptyWorkspaceTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from rfq_pipeline.assets.sources import SOURCE_TAG
from rfq_pipeline.ops.concurrency import instance_settings
from rfq_pipeline.sources.registry import SOURCES

DAYS = 30
FIRST_DAY = date(2026, 10, 1)


def simulated_minutes(source: str, day: date) -> float:
    """Deterministic simulated run duration: 2-10 minutes per source, +-20% per day."""
    base = 2 + zlib.crc32(source.encode()) % 9
    return base * random.Random(f"{source}:{day.isoformat()}").uniform(0.8, 1.2)


def _origin(job_name: str) -> RemoteJobOrigin:
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("rfq_pipeline"), "__repository__")
    return RemoteJobOrigin(repository_origin=repository, job_name=job_name)


def _report(instance: dg.DagsterInstance, run: dg.DagsterRun, event_type: DagsterEventType) -> None:
    instance.report_dagster_event(DagsterEvent(event_type.value, job_name=run.job_name), run_id=run.run_id)


def _line(name: str, value: float | int, unit: str) -> None:
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    print(f"{name:<52}{shown:>9} {unit}")


def run_backfill(days: int = DAYS) -> dict[str, object]:
    """Queue and drain ``days`` x every source; returns the measurements."""
    settings = instance_settings()
    max_runs = settings["concurrency"]["runs"]["max_concurrent_runs"]
    overrides = {**settings, "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}}
    with (
        dg.instance_for_test(overrides=overrides) as instance,
        create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as context,
    ):
        durations: dict[str, float] = {}
        enqueue_started = time.perf_counter()
        for offset in range(days):
            day = FIRST_DAY + timedelta(days=offset)
            for source in SOURCES:
                job = f"{source}_job"
                run = create_run_for_test(
                    instance,
                    job_name=job,
                    status=DagsterRunStatus.NOT_STARTED,
                    tags={SOURCE_TAG: source, "dagster/partition": day.isoformat()},
                    remote_job_origin=_origin(job),
                )
                instance.run_coordinator.submit_run(SubmitRunContext(run, context.create_request_context()))
                durations[run.run_id] = simulated_minutes(source, day)

        enqueue_s = time.perf_counter() - enqueue_started
        daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        daemon._logger.setLevel(logging.WARNING)  # one INFO line per iteration otherwise
        ends: dict[str, float] = {}  # run id -> simulated end minute, for runs in progress
        clock, iterations, finished = 0.0, 0, 0
        max_per_source: Counter[str] = Counter()
        max_global = 0
        started = time.perf_counter()
        while True:
            list(daemon.run_iteration(context))
            iterations += 1
            running = list(instance.get_runs(RunsFilter(statuses=IN_PROGRESS_RUN_STATUSES)))
            for run in running:
                if run.run_id not in ends:
                    _report(instance, run, DagsterEventType.RUN_START)
                    ends[run.run_id] = clock + durations[run.run_id]
            per_source = Counter(run.tags[SOURCE_TAG] for run in running)
            for source, count in per_source.items():
                max_per_source[source] = max(max_per_source[source], count)
            max_global = max(max_global, len(running))
            if not running:
                if instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED])) == 0:
                    break
                raise RuntimeError("runs are queued but none was launched")
            clock = min(ends[run.run_id] for run in running)
            for run in running:
                if ends[run.run_id] <= clock:
                    _report(instance, run, DagsterEventType.RUN_SUCCESS)
                    del ends[run.run_id]
                    finished += 1
        wall = time.perf_counter() - started
        launched = len(instance.run_launcher.queue())
    serial = sum(durations.values())
    return {
        "enqueued": len(durations),
        "launched": launched,
        "finished": finished,
        "iterations": iterations,
        "wall_s": wall,
        "enqueue_s": enqueue_s,
        "simulated_min": clock,
        "serial_min": serial,
        "max_per_source": dict(max_per_source),
        "max_global": max_global,
        "max_concurrent_runs": max_runs,
    }


def main() -> None:
    """Run the backfill simulation and print one line per measurement."""
    m = run_backfill()
    wall, sim = float(m["wall_s"]), float(m["simulated_min"])
    _line(f"queue: backfill {DAYS} days x {len(SOURCES)} sources, runs enqueued", int(m["enqueued"]), "runs")
    _line("queue: runs launched and finished", int(m["finished"]), "runs")
    _line("queue: wall time to create and enqueue the runs", float(m["enqueue_s"]), "s")
    _line("queue: daemon iterations", int(m["iterations"]), "iter")
    _line("queue: wall time of the dequeue loop", wall, "s")
    _line("queue: runs dequeued per wall minute", int(m["launched"]) / wall * 60, "runs/min")
    _line("queue: simulated makespan (simulated run durations)", sim, "min")
    _line("queue: simulated serial time (sum of durations)", float(m["serial_min"]), "min")
    _line("queue: runs per simulated minute", int(m["finished"]) / sim, "runs/min")
    per_source = m["max_per_source"]
    assert isinstance(per_source, dict)
    for source in SOURCES:
        _line(f"queue: max concurrent {source} (limit 1)", int(per_source.get(source, 0)), "runs")
    _line(f"queue: max concurrent runs (limit {m['max_concurrent_runs']})", int(m["max_global"]), "runs")
    ok = m["finished"] == m["enqueued"] and all(v == 1 for v in per_source.values())
    ok = ok and int(m["max_global"]) <= int(m["max_concurrent_runs"])
    if not ok:
        raise SystemExit("queue limits violated or queue did not drain")


if __name__ == "__main__":
    main()
