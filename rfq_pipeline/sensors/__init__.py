"""Dagster sensors: event-driven runs (an LLM batch that ended) rather than clock-driven ones (see schedules.py)."""

from rfq_pipeline.sensors.classify_batches import batch_sensors, classify_batches_sensor

__all__ = ["batch_sensors", "classify_batches_sensor"]
