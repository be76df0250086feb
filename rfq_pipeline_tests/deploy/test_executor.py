"""RFQ_EXECUTOR selects the executor of the code location's Definitions (k8s: a pod per step)."""

from __future__ import annotations

import importlib

import dagster as dg
import pytest
from dagster_k8s import k8s_job_executor

from rfq_pipeline.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "multiprocess"),
        ("", "multiprocess"),
        ("K8S", "k8s"),
        ("in-process", "in_process"),
        ("in_process", "in_process"),
    ],
)
def test_setting(raw, expected):
    env = {} if raw is None else {"RFQ_EXECUTOR": raw}
    assert Settings.from_env(env).executor == expected


def test_unknown_executor_is_refused_with_the_variable_named():
    with pytest.raises(SettingsError, match="RFQ_EXECUTOR='celery' must be one of multiprocess, in_process, k8s"):
        Settings.from_env({"RFQ_EXECUTOR": "celery"})


@pytest.fixture()
def reload_definitions(monkeypatch):
    """Re-import rfq_pipeline.definitions under a given RFQ_EXECUTOR; the module is restored afterwards."""
    import rfq_pipeline.definitions as definitions

    def reload(executor: str | None):
        if executor is None:
            monkeypatch.delenv("RFQ_EXECUTOR", raising=False)
        else:
            monkeypatch.setenv("RFQ_EXECUTOR", executor)
        return importlib.reload(definitions)

    yield reload
    monkeypatch.delenv("RFQ_EXECUTOR", raising=False)
    importlib.reload(definitions)


def test_k8s_gives_the_k8s_job_executor(reload_definitions):
    definitions = reload_definitions("k8s")
    assert definitions.defs.executor is k8s_job_executor
    # Every job of the location without an executor of its own runs its steps as Kubernetes Jobs.
    assert definitions.defs.resolve_job_def("ec21_job").executor_def is k8s_job_executor
    assert definitions.defs.resolve_implicit_global_asset_job_def().executor_def is k8s_job_executor


def test_default_is_dagsters_default_executor(reload_definitions):
    definitions = reload_definitions(None)
    assert definitions.defs.executor is dg.multi_or_in_process_executor
    assert definitions.defs.resolve_job_def("ec21_job").executor_def is dg.multi_or_in_process_executor
    assert reload_definitions("in_process").defs.executor is dg.in_process_executor
