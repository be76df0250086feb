"""The one ``Definitions`` object of the code location."""

from __future__ import annotations

import dagster as dg

from rfq_pipeline.assets.ai import ai_assets
from rfq_pipeline.assets.buyers import buyer_assets
from rfq_pipeline.assets.classify_batches import batch_assets, batch_jobs
from rfq_pipeline.assets.clusters import cluster_assets
from rfq_pipeline.assets.exports import export_assets
from rfq_pipeline.assets.imports import import_assets
from rfq_pipeline.assets.intake import intake_assets, intake_jobs
from rfq_pipeline.assets.models import model_assets
from rfq_pipeline.assets.quotes import quote_assets
from rfq_pipeline.assets.reports import report_assets
from rfq_pipeline.assets.rfqs import rfqs_normalized
from rfq_pipeline.assets.sources import source_assets
from rfq_pipeline.automation import automation_sensors
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource, SqsResource
from rfq_pipeline.schedules import source_jobs, source_schedules
from rfq_pipeline.sensors import batch_sensors
from rfq_pipeline.sensors.intake import intake_sensors
from rfq_pipeline.sensors.quote_followups import quote_sensors
from rfq_pipeline.sensors.run_failures import run_failure_sensors
from rfq_pipeline.sensors.ses_feedback import ses_feedback_sensors
from rfq_pipeline.settings import Settings

# What `make run` materializes: the marketplace sources through quote drafts, the daily report and the exports. The
# Anthropic batch assets are driven by their sensor (submit, then poll until the batch ends) and run only with a key.
pipeline_assets = [
    *source_assets,
    rfqs_normalized,
    *ai_assets,
    *cluster_assets,
    *buyer_assets,
    *quote_assets,
    *report_assets,
    *export_assets,
]
# Intake and import assets are materialized by their sensors' runs, for the objects named in the run config.
# The model assets train and evaluate (minutes); declarative automation retrains after enough new labels.
all_assets = [*pipeline_assets, *batch_assets, *intake_assets, *import_assets, *model_assets]

resources = {
    "postgres": PostgresResource(),
    "raw_pages": ObjectStoreResource(role="raw_pages"),
    "http": HttpClientResource(),
    "raw_mime": ObjectStoreResource(role="raw_mime"),
    "uploads": ObjectStoreResource(role="uploads"),
    "sqs": SqsResource(),
    "quote_pdfs": ObjectStoreResource(role="quote_pdfs"),
    "exports": ObjectStoreResource(role="exports"),
    "models": ObjectStoreResource(role="models"),
}


def executor_for(name: str) -> dg.ExecutorDefinition:
    """The executor of ``RFQ_EXECUTOR``: Dagster's default (multiprocess, or in_process by run config), in_process,
    or ``k8s``, the dagster-k8s ``k8s_job_executor`` that runs each step in its own Kubernetes pod (for runs launched
    by the K8sRunLauncher of the Helm deployment; it takes its image, secrets and service account from there)."""
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if name == "in_process":
        return dg.in_process_executor
    return dg.multi_or_in_process_executor


defs = dg.Definitions(
    assets=all_assets,
    jobs=[*source_jobs.values(), *batch_jobs, *intake_jobs],
    schedules=source_schedules,
    sensors=[
        *batch_sensors,
        *intake_sensors,
        *automation_sensors,
        *run_failure_sensors,
        *quote_sensors,
        *ses_feedback_sensors,
    ],
    resources=resources,
    executor=executor_for(Settings.from_env().executor),
)
