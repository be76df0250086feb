"""Jobs are resolved the way Dagster 1.13 expects, so `make run` prints none of its job-resolution warnings.

``Definitions.get_job_def`` warns ("Found asset job named ... passed to `jobs` parameter", "... passed to sensor
named ...", "... passed to schedule named ...") whenever the job was given as an asset job (``define_asset_job``) or
only through a sensor or schedule: such jobs exist as ``JobDefinition`` only once the repository is resolved, which
``Definitions.resolve_job_def`` does. Every job of this code location is an asset job.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from rfq_pipeline.definitions import defs

# The texts of Definitions.get_job_def's warnings in Dagster 1.13 (definitions_class.py, dig_for_warning).
RESOLUTION_WARNING = re.compile(r"passed to `?jobs`? parameter|must call Definitions\.resolve_job_def|directly passed")


def _resolution_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, UserWarning) and RESOLUTION_WARNING.search(str(w.message))
    ]


def _named_jobs() -> set[str]:
    """The jobs the code location defines, given directly or through a sensor or schedule."""
    repo = defs.get_repository_def()
    names = {job.name for job in defs.jobs or []}
    names |= {target.job_name for sensor in repo.sensor_defs for target in sensor.targets}
    names |= {schedule.job_name for schedule in repo.schedule_defs}
    return names


def test_every_job_sensor_and_schedule_resolves_without_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repo = defs.get_repository_def()
        all_jobs = {job.name: job for job in repo.get_all_jobs()}
        names = _named_jobs()
        resolved = {name: defs.resolve_job_def(name) for name in names}
    assert not _resolution_warnings(caught)
    assert names, "the code location defines jobs"
    assert names <= set(all_jobs)
    for name, job in resolved.items():
        assert isinstance(job, dg.JobDefinition) and job.name == name
        # The job a sensor or schedule targets is the very job the repository holds under that name.
        assert job is repo.get_job(name)
    assert {"intake_email_job", "intake_uploads_job", "ec21_job"} <= names


@dataclass
class _Outcome:
    success: bool = True


def test_intake_demo_resolves_the_jobs_its_sensors_request_without_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run`'s intake demo runs the jobs its sensor ticks request: the path that printed the warnings."""
    from rfq_pipeline.devtools import intake_demo

    requested = ["intake_email_job", "intake_uploads_job", "ec21_job", "intake_email_job"]
    day = "2026-01-05"

    @dg.sensor(name="requests_every_intake_job")
    def sensor(_context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(run_key=f"{name}:{i}", job_name=name, partition_key=day)
                for i, name in enumerate(requested)
            ]
        )

    executed: list[dg.JobDefinition] = []

    def execute_in_process(self: dg.JobDefinition, **_kwargs: Any) -> _Outcome:
        executed.append(self)
        return _Outcome()

    # What is under test is how the jobs are found, not the runs themselves (other tests run those).
    monkeypatch.setattr(dg.JobDefinition, "execute_in_process", execute_in_process)
    report = intake_demo.IntakeDemoReport()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        intake_demo.tick(sensor, dg.DagsterInstance.ephemeral(), report)
    assert not _resolution_warnings(caught)
    assert [job.name for job in executed] == requested
    # The code location's own jobs (resolve_job_def may hand out a fresh object once the repository is rebuilt).
    for job in executed:
        resolved = defs.resolve_job_def(job.name)
        assert job.asset_layer.executable_asset_keys == resolved.asset_layer.executable_asset_keys
    assert report.runs == {"intake_email_job": 2, "intake_uploads_job": 1, "ec21_job": 1}
    assert not report.failed_runs
