"""``make bench`` (backfill): a 30-day backfill of every source, launched as the Dagster UI's asset graph launches it.

In a temporary directory of its own (``RFQ_DATA_DIR`` with the embedded PostgreSQL, ``DAGSTER_HOME`` with a copy
of dagster.yaml and the pool limits of ``python -m rfq_pipeline.ops.concurrency``), it starts the marketplace
simulator and the real ``dagster dev`` (webserver, daemon, code server), then sends the UI's GraphQL mutation
``launchPartitionBackfill`` for the ``source/<name>`` assets over the last N daily partitions, and polls the backfill
until it ends or the budget is spent. Reported, one line per figure: the wall time from launch to the end against
the 8-minute target; per source the requests the simulator answered (listing, detail, robots.txt), the distinct
pages among them and the ratio of the two (target <= 1.1); the runs and steps the daemon made and their
statuses; the backfill's partition counts; and what ``source_crawls`` recorded. Everything started is stopped on
the way out, also on error or when the budget runs out; a backfill still running is reported as such, never
extrapolated.

``python -m rfq_pipeline.devtools.bench_backfill [--days 30] [--budget-minutes 15] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET_MINUTES = 8.0
TARGET_REQUEST_RATIO = 1.1
DEFAULT_DAYS = 30
DEFAULT_BUDGET_MINUTES = 15.0
START_TIMEOUT_S = 300.0  # dagster dev loads the code location once; slow on a busy 2-core machine
POLL_INTERVAL_S = 5.0
# Backfill statuses after which the daemon does nothing more (BulkActionStatus, Dagster 1.13).
TERMINAL_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"})
# The tag the UI adds to everything it launches (tagsWithUIExecutionTags in the webapp).
UI_TAGS = ({"key": "dagster/from_ui", "value": "true"},)
BACKFILL_TAG = "dagster/backfill"

# The UI's mutation (LAUNCH_PARTITION_BACKFILL_MUTATION in ui-core's BackfillUtils.tsx), errors reduced to messages.
LAUNCH_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      id
      status
      numPartitions
      timestamp
      endTimestamp
      error { message }
      assetBackfillData {
        assetBackfillStatuses {
          __typename
          ... on AssetPartitionsStatusCounts {
            assetKey { path }
            numPartitionsTargeted
            numPartitionsInProgress
            numPartitionsMaterialized
            numPartitionsFailed
          }
        }
      }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

CANCEL_MUTATION = """
mutation Cancel($backfillId: String!) {
  cancelPartitionBackfill(backfillId: $backfillId) { __typename }
}
"""

WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace { locationEntries { name locationOrLoadError { __typename } } }
  }
}
"""


# --- pure helpers (tested) -------------------------------------------------------------------------------------


def source_asset_path(name: str) -> list[str]:
    """The asset key path of a source's asset, ``["source", name]``."""
    return ["source", name]


def last_partition_keys(keys: Sequence[str], days: int) -> list[str]:
    """The last ``days`` of ``keys`` (partition keys in order), all of them if there are fewer."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    return list(keys[-days:])


def backfill_params(sources: Iterable[str], partition_keys: Sequence[str]) -> dict[str, Any]:
    """The ``LaunchBackfillParams`` the UI sends for "Materialize" of several assets over chosen partitions.

    The asset graph's dialog targets the hidden asset job for a selection across jobs, so it sends the asset
    selection and the partition names, no partition set selector (LaunchAssetChoosePartitionsDialog.tsx).
    """
    return {
        "tags": [dict(tag) for tag in UI_TAGS],
        "assetSelection": [{"path": source_asset_path(name)} for name in sources],
        "partitionNames": list(partition_keys),
        "fromFailure": False,
    }


def page_kind(path: str, detail_regex: str, detail_pattern: str) -> str:
    """``"robots"``, ``"detail"`` or ``"listing"`` for a request ``path`` (below the source's prefix, with query).

    A detail page matches the source's ``detail_regex``; a source without one (its detail URLs carry a query, as
    Alibaba's and openFDA's) is matched on the literal start of its ``detail_pattern`` instead. Anything else a
    crawl asks for is a listing page: pages after the first follow the site's next links, which need not match
    the listing's template.
    """
    decoded = unquote(path)
    if decoded.split("?", 1)[0] == "/robots.txt":
        return "robots"
    if detail_regex and re.search(detail_regex, decoded):
        return "detail"
    literal = detail_pattern.split("<", 1)[0]
    if literal.startswith("/") and len(literal) > 1 and decoded.startswith(literal):
        return "detail"
    return "listing"


@dataclass
class SourceRequests:
    """What the simulator answered for one source."""

    requests: int = 0
    listing: int = 0
    detail: int = 0
    robots: int = 0
    errors: int = 0  # answers with a status >= 400
    distinct_pages: int = 0  # distinct path + query among listing and detail pages

    @property
    def pages(self) -> int:
        """Listing and detail requests (robots.txt is not a page)."""
        return self.listing + self.detail

    @property
    def ratio(self) -> float:
        """Page requests per distinct page: 1.0 when no page was asked for twice."""
        return self.pages / self.distinct_pages if self.distinct_pages else 0.0


@dataclass(frozen=True)
class PathRules:
    """How to tell a source's listing pages from its detail pages (from its ``SourceSpec``)."""

    detail_regex: str = ""
    detail_pattern: str = ""


def request_counts(log: Iterable[tuple[str, str, int]], rules: Mapping[str, PathRules]) -> dict[str, SourceRequests]:
    """Per source, counts of the simulator's request log entries ``(source, path, status)``.

    ``path`` is the request target as logged, ``/<source>/...?query``; sources without ``rules`` still get counts
    (every non-robots request is then a listing page).
    """
    counts: dict[str, SourceRequests] = {}
    distinct: dict[str, set[str]] = {}
    for source, path, status in log:
        entry = counts.setdefault(source, SourceRequests())
        rest = path[len(source) + 1 :] if path.startswith(f"/{source}/") or path == f"/{source}" else path
        rest = rest or "/"
        rule = rules.get(source, PathRules())
        kind = page_kind(rest, rule.detail_regex, rule.detail_pattern)
        entry.requests += 1
        entry.errors += status >= 400
        if kind == "robots":
            entry.robots += 1
            continue
        setattr(entry, kind, getattr(entry, kind) + 1)
        distinct.setdefault(source, set()).add(rest)
    for source, entry in counts.items():
        entry.distinct_pages = len(distinct.get(source, ()))
    return counts


def partition_counts(statuses: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per source, the backfill's partition counts from GraphQL ``assetBackfillStatuses``.

    ``not_materialized`` is what is neither materialized, failed nor in progress: a partition whose run ended
    without a materialization (a source skipped by design) or that the backfill never got to.
    """
    counts: dict[str, dict[str, int]] = {}
    for status in statuses:
        if status.get("__typename") != "AssetPartitionsStatusCounts":
            continue
        path = status["assetKey"]["path"]
        targeted = int(status["numPartitionsTargeted"])
        materialized = int(status["numPartitionsMaterialized"])
        failed = int(status["numPartitionsFailed"])
        in_progress = int(status["numPartitionsInProgress"])
        counts[path[-1]] = {
            "targeted": targeted,
            "materialized": materialized,
            "failed": failed,
            "in_progress": in_progress,
            "not_materialized": max(0, targeted - materialized - failed - in_progress),
        }
    return counts


def step_source(step_key: str, sources: Iterable[str]) -> str | None:
    """The source whose asset a step of the implicit asset job materializes (step key ``source__<name>``)."""
    for name in sources:
        if step_key == f"source__{name}":
            return name
    return None


def run_partition_count(tags: Mapping[str, str], partitions: Sequence[str]) -> int:
    """How many of ``partitions`` (in order) a run covers: one partition tag, or a partition range's tags."""
    if "dagster/partition" in tags:
        return 1
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start is None or end is None:
        return 0
    if start in partitions and end in partitions:
        return partitions.index(end) - partitions.index(start) + 1
    return sum(start <= key <= end for key in partitions)  # daily keys sort as dates


def _line(name: str, value: float | int | str, unit: str = "") -> None:
    shown = f"{value:,}" if isinstance(value, int) else value if isinstance(value, str) else f"{value:,.2f}"
    print(f"{name:<52}{shown:>9} {unit}".rstrip(), flush=True)


# --- the environment -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _progress(message: str) -> None:
    print(f"[bench_backfill] {message}", file=sys.stderr, flush=True)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """This process's environment for the bench: no inherited RFQ_/DAGSTER_/AWS_ settings or database, plus
    ``values``; restored afterwards. Ours too, not only dagster dev's: this process reads the same instance and
    database."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("RFQ_", "DAGSTER_", "AWS_")) or key in {"DATABASE_URL", "ANTHROPIC_API_KEY"}:
            del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _graphql(url: str, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60.0) -> dict:
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read())
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def _wait_for_webserver(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until the webserver answers and the code location has loaded (a launch before that finds no assets)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {process.returncode}:\n{_tail(log)}")
        try:
            data = _graphql(url, WORKSPACE_QUERY, timeout=10)
            entries = data["workspaceOrError"].get("locationEntries") or []
            kinds = [(e.get("locationOrLoadError") or {}).get("__typename") for e in entries]
            if kinds and all(kind == "RepositoryLocation" for kind in kinds):
                return
            if any(kind == "PythonError" for kind in kinds):
                raise RuntimeError(f"the code location did not load:\n{_tail(log)}")
            last = f"locations: {kinds}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, RuntimeError) as exc:
            if isinstance(exc, RuntimeError) and "did not load" in str(exc):
                raise
            last = str(exc)
        time.sleep(1.0)
    raise RuntimeError(f"dagster dev did not answer within {timeout:.0f} s ({last}):\n{_tail(log)}")


def _tail(log: Path, chars: int = 4000) -> str:
    with suppress(OSError):
        return log.read_text(errors="replace")[-chars:]
    return ""


def _sweep(marker: str) -> int:
    """Kill what still runs with ``marker`` (this bench's temporary directory) on its command line: left behind
    by a process killed mid-shutdown. Only this bench's processes carry it. Returns how many there were."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        with suppress(psutil.Error):
            if process.pid != os.getpid() and any(marker in part for part in process.info["cmdline"] or ()):
                found.append(process)
    for process in found:
        with suppress(psutil.Error):
            process.terminate()
    _gone, alive = psutil.wait_procs(found, timeout=10)
    for process in alive:
        with suppress(psutil.Error):
            process.kill()
    return len(found)


# --- the measurement -------------------------------------------------------------------------------------------


@dataclass
class Result:
    """Everything the bench measured."""

    days: int
    partitions: list[str]
    sources: list[str]
    backfill_id: str = ""
    status: str = "NOT_LAUNCHED"
    finished: bool = False
    wall_s: float = 0.0
    recorded_s: float | None = None  # the backfill's own creation-to-end time, as Dagster stored it
    startup_s: float = 0.0
    requests: dict[str, SourceRequests] = field(default_factory=dict)
    partitions_by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    runs_by_status: dict[str, int] = field(default_factory=dict)
    runs_by_size: dict[int, int] = field(default_factory=dict)  # assets per run -> runs
    runs_by_partitions: dict[int, int] = field(default_factory=dict)  # partitions per run -> runs
    runs_per_source: dict[str, int] = field(default_factory=dict)
    run_seconds: list[float] = field(default_factory=list)  # start to end of each finished run
    failures: dict[str, int] = field(default_factory=dict)  # "run: <message>" / "<step>: <error>" -> count
    steps_per_source: dict[str, dict[str, int]] = field(default_factory=dict)
    step_seconds_per_source: dict[str, float] = field(default_factory=dict)
    crawls: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # source -> status/stopped_by
    # The same backfill launched again once the first ended: what it sent and whether it stored anything twice.
    rerun_status: str = ""
    rerun_wall_s: float = 0.0
    rerun_started_at: datetime | None = None
    rerun_requests: dict[str, SourceRequests] = field(default_factory=dict)
    stored_before_rerun: dict[str, int] = field(default_factory=dict)  # table -> rows
    stored_after_rerun: dict[str, int] = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the figures."""
        data = asdict(self)
        for attribute in ("requests", "rerun_requests"):
            data[attribute] = {
                name: {**asdict(counts), "pages": counts.pages, "ratio": round(counts.ratio, 3)}
                for name, counts in getattr(self, attribute).items()
            }
        data["rerun_started_at"] = self.rerun_started_at.isoformat() if self.rerun_started_at else None
        data["target_minutes"] = TARGET_MINUTES
        data["ratio_to_target"] = self.wall_s / 60 / TARGET_MINUTES if self.finished else None
        return data


def _collect_runs(result: Result) -> None:
    """Runs the daemon launched for the backfill, grouped by status and size, and their steps per source."""
    import dagster as dg
    from dagster._core.storage.dagster_run import RunsFilter

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(RunsFilter(tags={BACKFILL_TAG: result.backfill_id}))
        runs = [record.dagster_run for record in records]
        result.run_seconds = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        by_status: Counter[str] = Counter()
        by_size: Counter[int] = Counter()
        by_partitions: Counter[int] = Counter()
        per_source: Counter[str] = Counter()
        steps: dict[str, Counter[str]] = {name: Counter() for name in result.sources}
        seconds: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for run in runs:
            if run.status == dg.DagsterRunStatus.FAILURE:
                failures.update(_failure_reasons(instance, run.run_id))
            by_status[run.status.value] += 1
            selection = run.asset_selection or frozenset()
            by_size[len(selection)] += 1
            by_partitions[run_partition_count(run.tags, result.partitions)] += 1
            for key in selection:
                if len(key.path) == 2 and key.path[0] == "source":
                    per_source[key.path[1]] += 1
            for stat in instance.get_run_step_stats(run.run_id):
                name = step_source(stat.step_key, result.sources)
                if name is None:
                    continue
                steps[name][stat.status.value if stat.status else "NOT_STARTED"] += 1
                if stat.start_time and stat.end_time:
                    seconds[name] += stat.end_time - stat.start_time
    result.runs_by_status = dict(by_status)
    result.failures = dict(failures.most_common())
    result.runs_by_size = dict(sorted(by_size.items()))
    result.runs_by_partitions = dict(sorted(by_partitions.items()))
    result.runs_per_source = {name: per_source[name] for name in result.sources}
    result.steps_per_source = {name: dict(counter) for name, counter in steps.items()}
    result.step_seconds_per_source = {name: seconds[name] for name in result.sources}


def _failure_reasons(instance: Any, run_id: str) -> list[str]:
    """Why a run failed: its failed steps' errors, else the run failure's message (first line, shortened)."""
    from dagster import DagsterEventType

    reasons = []
    for record in instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.STEP_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            text = f"{event.step_key}: {(error.message if error else event.message) or ''}"
        elif not reasons:
            text = f"run: {event.message or record.user_message}"
        else:
            continue
        reasons.append(text.strip().splitlines()[0][:140] if text.strip() else "(no message)")
    return reasons


def _collect_crawls(result: Result, url: str) -> None:
    """Status and ``stopped_by`` counts per source from ``source_crawls``."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT source, status, coalesce(stopped_by, ''), count(*) FROM source_crawls GROUP BY 1, 2, 3"
        ).fetchall()
    crawls: dict[str, dict[str, dict[str, int]]] = {}
    for source, status, stopped_by, count in rows:
        entry = crawls.setdefault(source, {"status": {}, "stopped_by": {}})
        entry["status"][status] = entry["status"].get(status, 0) + count
        if stopped_by:
            entry["stopped_by"][stopped_by] = entry["stopped_by"].get(stopped_by, 0) + count
    result.crawls = crawls


def run(days: int = DEFAULT_DAYS, budget_minutes: float = DEFAULT_BUDGET_MINUTES) -> Result:
    """Launch and measure the backfill of ``days`` partitions x every source within ``budget_minutes``."""
    from rfq_pipeline.sources.registry import SOURCES

    sources = list(SOURCES)
    rules = {name: PathRules(spec.detail_regex, spec.detail_pattern) for name, spec in SOURCES.items()}
    with (
        tempfile.TemporaryDirectory(prefix="rfq-bench-backfill-", ignore_cleanup_errors=True) as tmp,
        ExitStack() as stack,
    ):
        root = Path(tmp)
        dagster_home = root / "dagster"
        dagster_home.mkdir()
        # As the Makefile's $(DAGSTER_HOME)/dagster.yaml rule: the repository's instance configuration, copied.
        shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
        from rfq_pipeline.devtools.simulator import start_simulator

        simulator = start_simulator()
        stack.callback(simulator.stop)
        # Offline like `rfq-pipeline dev`: the simulator stands in for the marketplaces, and no DNS lookups.
        env = {
            "RFQ_DATA_DIR": str(root / "data"),
            "DAGSTER_HOME": str(dagster_home),
            "RFQ_SIMULATOR_URL": simulator.url,
            "RFQ_DNS_SERVER": "off",
        }
        stack.enter_context(_environment(env))
        # Registered after the environment, so it runs before it is restored: the sweep needs nothing of it.
        stack.callback(lambda: _report_sweep(_sweep(tmp)))
        # Imported here, with the bench's environment set: the partitions definition reads the settings on import.
        from rfq_pipeline.partitions import daily_partitions

        partitions = last_partition_keys(daily_partitions.get_partition_keys(), days)
        result = Result(days=days, partitions=partitions, sources=sources)
        try:
            _measure(result, root, stack, budget_minutes)
        except Exception as exc:  # the figures gathered so far are still worth printing
            result.error = f"{type(exc).__name__}: {exc}"
        stack.close()  # stop dagster dev, the embedded server and the simulator before the directory goes
        # The log outlives the server: read once nothing can ask for a page any more.
        log = simulator.request_log
        rerun = result.rerun_started_at
        result.requests = request_counts(
            ((e.source, e.path, e.status) for e in log if rerun is None or e.timestamp < rerun), rules
        )
        if rerun is not None:
            result.rerun_requests = request_counts(
                ((e.source, e.path, e.status) for e in log if e.timestamp >= rerun), rules
            )
    return result


# What a re-run must not add to: RFQs, archived pages (one row per distinct page) and clusters of RFQs.
STORED_TABLES = ("rfqs", "raw_pages")


def _stored_rows(url: str) -> dict[str, int]:
    """Rows of the tables a repeated backfill must leave as they are."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as conn:
        return {
            table: int(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])
            for table in STORED_TABLES
        }


def _report_sweep(count: int) -> None:
    if count:
        _progress(f"killed {count} leftover process(es) of this bench")


def _measure(
    result: Result,
    root: Path,
    stack: ExitStack,
    budget_minutes: float,
) -> None:
    """Start dagster dev, launch the backfill and wait for it, launch it again, and read what the runs did."""
    from rfq_pipeline.cli import _stop
    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import resolve_database_url
    from rfq_pipeline.db.embedded import stop_embedded_server
    from rfq_pipeline.settings import Settings

    bin_dir = Path(sys.executable).parent
    started = time.monotonic()
    settings = Settings.from_env()
    # Started (and migrated) here, as `rfq-pipeline dev` does before dagster dev: this process then holds the
    # embedded server for the runs, which join it, and reads source_crawls after dagster dev has stopped.
    url = resolve_database_url(settings)
    stack.callback(stop_embedded_server, settings.embedded_pgdata)
    migrations.migrate(url, settings.migrations_dir)
    # The named pools' limits live in the instance, not in dagster.yaml: set as the project documents.
    subprocess.run(
        [sys.executable, "-m", "rfq_pipeline.ops.concurrency"], cwd=REPO_ROOT, check=True, capture_output=True
    )
    port = _free_port()
    graphql_url = f"http://127.0.0.1:{port}/graphql"
    log = root / "dagster-dev.log"
    with log.open("wb") as out:
        # A session of its own, so that cli._stop can find the whole tree (webserver, daemon, code server, runs).
        dagster = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "--port", str(port)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(_stop, [dagster])
    _progress(f"dagster dev starting (simulator answering the marketplaces), {len(result.partitions)} partitions")
    _wait_for_webserver(graphql_url, dagster, log, START_TIMEOUT_S)
    result.startup_s = time.monotonic() - started
    _progress(f"webserver up after {result.startup_s:.0f} s; launching the backfill")

    params = backfill_params(result.sources, result.partitions)
    deadline = time.monotonic() + budget_minutes * 60
    backfill = _launch_and_wait(result, graphql_url, dagster, log, params, deadline)
    if backfill.get("endTimestamp") and backfill.get("timestamp"):
        result.recorded_s = float(backfill["endTimestamp"]) - float(backfill["timestamp"])
    if backfill.get("error"):
        result.error = backfill["error"].get("message", "")[:500]
    result.partitions_by_source = partition_counts(
        (backfill.get("assetBackfillData") or {}).get("assetBackfillStatuses", [])
    )
    _collect_crawls(result, url)
    if result.finished:
        # The same launch again: pages already read are read again, days beyond reach cost nothing, and nothing
        # may be stored twice.
        first = (result.backfill_id, result.status, result.wall_s, result.finished)
        result.stored_before_rerun = _stored_rows(url)
        result.rerun_started_at = datetime.now(UTC)
        _progress("launching the same backfill again")
        _launch_and_wait(result, graphql_url, dagster, log, params, time.monotonic() + budget_minutes * 60)
        result.rerun_status, result.rerun_wall_s = result.status, result.wall_s
        result.backfill_id, result.status, result.wall_s, result.finished = first
        result.stored_after_rerun = _stored_rows(url)
    # Stopped before reading: nothing writes to the run storage or the database any more.
    _stop([dagster])
    _collect_runs(result)


def _launch_and_wait(
    result: Result,
    graphql_url: str,
    dagster: subprocess.Popen[bytes],
    log: Path,
    params: dict[str, Any],
    deadline: float,
) -> dict[str, Any]:
    """Launch the backfill as the UI does and poll it until it ends or ``deadline`` (monotonic) passes; the id,
    status, wall time and whether it finished go into ``result``; returns the backfill as last read."""
    launched = _graphql(graphql_url, LAUNCH_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"launch refused: {launched['__typename']}: {launched.get('message', '')}")
    launch = time.monotonic()
    result.backfill_id = launched["backfillId"]
    result.status, result.finished = "REQUESTED", False
    backfill: dict[str, Any] = {}
    last_shown = 0.0
    while True:
        if dagster.poll() is not None:
            raise RuntimeError(f"dagster dev exited with {dagster.returncode}:\n{_tail(log)}")
        with suppress(urllib.error.URLError, TimeoutError, ConnectionError):
            backfill = _graphql(graphql_url, BACKFILL_QUERY, {"backfillId": result.backfill_id})
            backfill = backfill["partitionBackfillOrError"]
            result.status = backfill.get("status", backfill["__typename"])
        now = time.monotonic()
        if result.status in TERMINAL_STATUSES:
            result.wall_s, result.finished = now - launch, True
            return backfill
        if now >= deadline:
            result.wall_s = now - launch
            _progress(f"budget spent with the backfill {result.status}: canceling it")
            with suppress(Exception):
                _graphql(graphql_url, CANCEL_MUTATION, {"backfillId": result.backfill_id})
            result.status = f"{result.status} (budget spent)"
            return backfill
        if now - last_shown >= 60:
            counts = partition_counts((backfill.get("assetBackfillData") or {}).get("assetBackfillStatuses", []))
            done = sum(c["materialized"] + c["failed"] for c in counts.values())
            _progress(f"{(now - launch) / 60:.1f} min: {result.status}, {done} partitions materialized or failed")
            last_shown = now
        time.sleep(POLL_INTERVAL_S)


# --- the report ------------------------------------------------------------------------------------------------


def report(result: Result) -> None:
    """Print one line per figure."""
    label = f"backfill {result.days} days x {len(result.sources)} sources"
    if result.partitions:
        _line(f"{label}: partitions", f"{result.partitions[0]}..{result.partitions[-1]}")
    _line("backfill: dagster dev up, code location loaded", result.startup_s, "s")
    _line("backfill: final status", result.status)
    _line("backfill: wall time from launch to its end", result.wall_s / 60, "min")
    if result.recorded_s is not None:
        _line("backfill: creation to end, as Dagster recorded it", result.recorded_s / 60, "min")
    ratio = f"{result.wall_s / 60 / TARGET_MINUTES:>9.2f}" if result.finished else f"{'inf':>9}  (not finished)"
    print(f"{f'ratio backfill wall time / {TARGET_MINUTES:g} min (target <= 1)':<52}{ratio}", flush=True)
    total = sum(result.runs_by_status.values())
    _line("backfill: runs launched", total, "runs")
    for status, count in sorted(result.runs_by_status.items()):
        _line(f"backfill: runs {status}", count, "runs")
    if result.run_seconds:
        _line("backfill: run time (start to end), longest", max(result.run_seconds), "s")
        _line("backfill: run time (start to end), summed", sum(result.run_seconds), "s")
    for size, count in result.runs_by_size.items():
        _line(f"backfill: runs materializing {size} asset(s) each", count, "runs")
    for size, count in result.runs_by_partitions.items():
        _line(f"backfill: runs covering {size} partition(s) each", count, "runs")
    for name in result.sources:
        requests = result.requests.get(name, SourceRequests())
        _line(f"{name}: requests answered by the simulator", requests.requests, "reqs")
        shown = f"{requests.listing}/{requests.detail}/{requests.robots}"
        _line(f"{name}: listing/detail/robots.txt requests", shown)
        if requests.errors:
            _line(f"{name}: answers with status >= 400", requests.errors, "reqs")
        _line(f"{name}: distinct pages requested", requests.distinct_pages, "pages")
        shown = f"{requests.ratio:>9.2f}" if requests.distinct_pages else f"{'-':>9}"
        print(f"{f'ratio {name} requests/distinct page':<52}{shown} (target <= {TARGET_REQUEST_RATIO:g})")
        _line(f"{name}: runs that materialize it", result.runs_per_source.get(name, 0), "runs")
        steps = result.steps_per_source.get(name, {})
        shown = ", ".join(f"{status} {count}" for status, count in sorted(steps.items()))
        _line(f"{name}: steps", sum(steps.values()), f"steps ({shown})" if shown else "steps")
        _line(f"{name}: step time, summed", result.step_seconds_per_source.get(name, 0.0), "s")
        parts = result.partitions_by_source.get(name)
        if parts:
            unit = f"of {parts['targeted']}" + (f", {parts['in_progress']} in progress" if parts["in_progress"] else "")
            shown = f"{parts['materialized']}/{parts['failed']}/{parts['not_materialized']}"
            _line(f"{name}: partitions mat./failed/not mat.", shown, unit)
        crawls = result.crawls.get(name, {"status": {}, "stopped_by": {}})
        shown = ", ".join(f"{status} {count}" for status, count in sorted(crawls["status"].items()))
        stopped = ", ".join(f"{why} {count}" for why, count in sorted(crawls["stopped_by"].items())) or "(none)"
        _line(f"{name}: source_crawls rows", sum(crawls["status"].values()), f"crawls ({shown})" if shown else "crawls")
        _line(f"{name}: source_crawls stopped_by", stopped)
    if result.rerun_started_at is not None:
        _line("re-run of the same backfill: final status", result.rerun_status)
        _line("re-run of the same backfill: wall time", result.rerun_wall_s / 60, "min")
        for table in STORED_TABLES:
            before, after = result.stored_before_rerun.get(table, 0), result.stored_after_rerun.get(table, 0)
            _line(f"re-run: {table} rows before / after (target: equal)", f"{before} / {after}")
        for name in result.sources:
            again = result.rerun_requests.get(name, SourceRequests())
            _line(f"re-run: {name} requests (listing/detail)", again.requests, f"reqs ({again.listing}/{again.detail})")
    for reason, count in result.failures.items():
        _line("backfill: failure", count, f"x {reason}")
    if result.error:
        print(f"error: {result.error}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--days`` (default 30), ``--budget-minutes`` (default 15), ``--json``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="daily partitions, ending today")
    parser.add_argument("--budget-minutes", type=float, default=DEFAULT_BUDGET_MINUTES)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object instead")
    args = parser.parse_args(argv)
    # A normal exit on SIGTERM, so that the teardown runs: nothing this bench started may outlive it.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    began = datetime.now().astimezone()
    result = run(args.days, args.budget_minutes)
    if args.json:
        print(json.dumps({"started_at": began.isoformat(timespec="seconds"), **result.to_json()}, indent=2))
    else:
        report(result)
    return 1 if result.error or not result.finished else 0


if __name__ == "__main__":
    sys.exit(main())
