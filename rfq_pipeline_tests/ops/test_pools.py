"""Pool limits hold for parallel steps calling the same API: a real multiprocess run against the instance's slots.

Uses the pool limits as Dagster 1.13.27 stores them (instance.event_log_storage, via apply_pool_limits) and the
`concurrency` section of dagster.yaml (granularity op).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from rfq_pipeline.ops.concurrency import apply_pool_limits, instance_settings

LOG_ENV = "RFQ_TEST_POOL_LOG"
STEP_SECONDS = 1.5


def _call_api_op(index: int) -> dg.OpDefinition:
    @dg.op(name=f"call_api_{index}", pool="anthropic")
    def _call_api() -> None:
        started = time.time()
        time.sleep(STEP_SECONDS)
        with Path(os.environ[LOG_ENV]).open("a", encoding="utf-8") as log:
            log.write(json.dumps({"op": index, "start": started, "end": time.time()}) + "\n")

    return _call_api


@dg.job(executor_def=dg.multiprocess_executor.configured({"max_concurrent": 4}))
def four_api_calls() -> None:
    for index in range(4):
        _call_api_op(index)()


def _intervals(limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    log = tmp_path / f"limit_{limit}.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    settings = instance_settings()
    with dg.instance_for_test(overrides={"concurrency": settings["concurrency"]}) as inst:
        assert apply_pool_limits(inst, {"anthropic": limit}) == {"anthropic": limit}
        result = dg.execute_job(dg.reconstructable(four_api_calls), instance=inst)
        assert result.success
        # Every slot was given back.
        assert inst.event_log_storage.get_concurrency_info("anthropic").active_slot_count == 0
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["op"] for r in rows) == [0, 1, 2, 3]
    return sorted((r["start"], r["end"]) for r in rows)


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = peak = 0
    for _, delta in edges:
        open_now += delta
        peak = max(peak, open_now)
    return peak


def test_pool_limit_one_serializes_the_api_calls(tmp_path, monkeypatch):
    intervals = _intervals(1, tmp_path, monkeypatch)
    assert _max_overlap(intervals) == 1
    for (_, end), (next_start, _) in itertools.pairwise(intervals):
        assert end <= next_start


def test_pool_limit_two_lets_two_calls_overlap(tmp_path, monkeypatch):
    assert _max_overlap(_intervals(2, tmp_path, monkeypatch)) == 2
