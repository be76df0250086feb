"""Keeps the run-queue settings of the Helm values equal to ``dagster.yaml``'s: one source of truth.

``dagster.yaml`` (the local instance) holds the run queue: ``concurrency`` (pools' default limit, the run limit, the
tag limits) and ``run_monitoring``. ``helm/values.yaml`` carries the same settings in the chart's camelCase keys, in
blocks marked ``# BEGIN generated: <key>`` / ``# END generated: <key>`` that this module writes:

    python -m rfq_pipeline.devtools.helm_values            # rewrite the generated blocks (make helm-values)
    python -m rfq_pipeline.devtools.helm_values --check    # exit 1 if they differ from dagster.yaml
    python -m rfq_pipeline.devtools.helm_values --dagster-plus  # the same limits as Dagster+ deployment settings

:func:`instance_sections_from_chart` maps the chart's keys back the way the chart's templates render them into the
instance's ``dagster.yaml`` (``_concurrency.tpl``, ``configmap-instance.yaml``), so a test can compare both ways.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rfq_pipeline.ops.concurrency import DAGSTER_YAML, instance_settings

HELM_VALUES = DAGSTER_YAML.parent / "helm" / "values.yaml"

# dagster.yaml key -> chart key, per section. A key missing here is an error, not silently dropped.
_POOLS = {
    "default_limit": "defaultLimit",
    "granularity": "granularity",
    "op_granularity_run_buffer": "opGranularityRunBuffer",
}
_RUNS = {"max_concurrent_runs": "maxConcurrentRuns", "tag_concurrency_limits": "tagConcurrencyLimits"}
_RUN_MONITORING = {
    "enabled": "enabled",
    "start_timeout_seconds": "startTimeoutSeconds",
    "cancel_timeout_seconds": "cancelTimeoutSeconds",
    "max_resume_run_attempts": "maxResumeRunAttempts",
    "poll_interval_seconds": "pollIntervalSeconds",
    "free_slots_after_run_end_seconds": "freeSlotsAfterRunEndSeconds",
}
# Where each generated block sits in the values: (path of the parent mapping, key).
BLOCKS = {"concurrency": (), "runMonitoring": ("dagsterDaemon",)}

_BLOCK = re.compile(
    r"^(?P<indent>[ ]*)# BEGIN generated: (?P<name>\w+)\b[^\n]*\n(?P<body>.*?)^(?P=indent)# END generated: (?P=name)\n",
    re.M | re.S,
)


def _renamed(section: str, values: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"dagster.yaml {section} has keys the chart mapping does not know: {unknown}")
    return {names[key]: value for key, value in values.items()}


def chart_blocks(instance: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The chart values that carry ``dagster.yaml``'s run-queue settings, keyed like :data:`BLOCKS`."""
    instance = instance_settings() if instance is None else instance
    concurrency = instance["concurrency"]
    unknown = sorted(set(concurrency) - {"pools", "runs"})
    if unknown:
        raise ValueError(f"dagster.yaml concurrency has sections the chart mapping does not know: {unknown}")
    return {
        "concurrency": {
            "enabled": True,
            "pools": _renamed("concurrency.pools", concurrency.get("pools", {}), _POOLS),
            "runs": _renamed("concurrency.runs", concurrency.get("runs", {}), _RUNS),
        },
        "runMonitoring": _renamed("run_monitoring", instance["run_monitoring"], _RUN_MONITORING),
    }


def instance_sections_from_chart(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the chart renders into the instance's ``dagster.yaml`` from these values (the run-queue sections)."""
    sections: dict[str, Any] = {}
    concurrency = values.get("concurrency") or {}
    if concurrency.get("enabled"):
        pools = {key: concurrency.get("pools", {}).get(chart) for key, chart in _POOLS.items()}
        runs = {key: concurrency.get("runs", {}).get(chart) for key, chart in _RUNS.items()}
        sections["concurrency"] = {
            "pools": {key: value for key, value in pools.items() if value is not None},
            "runs": {key: value for key, value in runs.items() if value not in (None, [])},
        }
    monitoring = (values.get("dagsterDaemon") or {}).get("runMonitoring") or {}
    if monitoring.get("enabled"):
        sections["run_monitoring"] = {
            key: monitoring[chart] for key, chart in _RUN_MONITORING.items() if monitoring.get(chart) is not None
        }
    return sections


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as the hand-written parts of the values file do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def render(text: str, blocks: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """``text`` with every generated block replaced by the current value; fails on a missing or unknown block."""
    blocks = chart_blocks() if blocks is None else blocks
    seen: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name, indent = match["name"], match["indent"]
        if name not in blocks:
            raise ValueError(f"generated block {name!r} is not one of {sorted(blocks)}")
        seen.add(name)
        dumped = yaml.dump({name: blocks[name]}, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
        body = "".join(f"{indent}{line}\n" for line in dumped.splitlines())
        begin = match.group(0).splitlines(keepends=True)[0]
        return f"{begin}{body}{indent}# END generated: {name}\n"

    rendered = _BLOCK.sub(replace, text)
    missing = sorted(set(blocks) - seen)
    if missing:
        raise ValueError(f"helm values have no generated block for {missing}")
    return rendered


def dagster_plus_settings(instance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The same queue as Dagster+ full-deployment settings (``concurrency``, ``run_monitoring`` timeouts)."""
    instance = instance_settings() if instance is None else instance
    monitoring = instance.get("run_monitoring", {})
    return {
        "concurrency": instance["concurrency"],
        "run_monitoring": {
            key: monitoring[key] for key in ("start_timeout_seconds", "cancel_timeout_seconds") if key in monitoring
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rfq_pipeline.devtools.helm_values", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--values", type=Path, default=HELM_VALUES, help="the Helm values file with generated blocks")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the blocks differ from dagster.yaml")
    mode.add_argument("--dagster-plus", action="store_true", help="print Dagster+ deployment settings (YAML)")
    args = parser.parse_args(argv)

    if args.dagster_plus:
        print(yaml.dump(dagster_plus_settings(), Dumper=_Dumper, sort_keys=False, default_flow_style=False), end="")
        return 0
    current = args.values.read_text(encoding="utf-8")
    rendered = render(current)
    if rendered == current:
        print(f"{args.values}: run-queue blocks equal dagster.yaml")
        return 0
    if args.check:
        print(f"{args.values}: run-queue blocks differ from dagster.yaml; run `make helm-values`", file=sys.stderr)
        return 1
    args.values.write_text(rendered, encoding="utf-8")
    print(f"{args.values}: rewrote the run-queue blocks from dagster.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
