"""Per-pool concurrency limits of the Dagster instance, and the instance settings read from ``dagster.yaml``.

Dagster 1.13's ``concurrency.pools`` section in ``dagster.yaml`` only takes ``default_limit``, ``granularity`` and
``op_granularity_run_buffer``: a limit for one named pool lives in the instance's event log storage and is set with
``dagster instance concurrency set <pool> <n>``, the UI (Deployment > Concurrency) or
``instance.event_log_storage.set_concurrency_slots``. :func:`apply_pool_limits` sets :data:`POOL_LIMITS` that way;
``python -m rfq_pipeline.ops.concurrency`` applies them to the instance of ``DAGSTER_HOME`` (idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance

from rfq_pipeline.sources.registry import SOURCES

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"

# One step at a time per marketplace (its crawl shares one rate limit), one Anthropic call at a time, two enrichment
# calls. Pools not named here get `concurrency.pools.default_limit` from dagster.yaml.
POOL_LIMITS: dict[str, int] = {
    **{f"marketplace_{name}": 1 for name in SOURCES},
    "anthropic": 1,
    "enrichment": 2,
}


def apply_pool_limits(instance: DagsterInstance, limits: Mapping[str, int] = POOL_LIMITS) -> dict[str, int]:
    """Set each pool's slot count on ``instance``; returns the limits now stored for those pools."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        raise RuntimeError(f"{type(storage).__name__} does not support pool limits; migrate the instance storage")
    for pool, limit in limits.items():
        if limit < 0:
            raise ValueError(f"pool {pool}: limit must be >= 0, got {limit}")
        storage.set_concurrency_slots(pool, limit)
    return {pool: storage.get_concurrency_info(pool).slot_count for pool in limits}


def instance_settings(path: Path = DAGSTER_YAML) -> dict[str, Any]:
    """The queue-related sections of ``dagster.yaml`` (run coordinator, concurrency, run monitoring)."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {key: config[key] for key in ("run_coordinator", "concurrency", "run_monitoring") if key in config}


def main() -> None:
    """Apply :data:`POOL_LIMITS` to the instance of ``DAGSTER_HOME`` and print them."""
    with DagsterInstance.get() as instance:
        for pool, limit in sorted(apply_pool_limits(instance).items()):
            print(f"{pool:<52}{limit:>9} slots")


if __name__ == "__main__":
    main()
