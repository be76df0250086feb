"""The one ``Definitions`` object of the code location."""

from __future__ import annotations

import dagster as dg

from rfq_pipeline.assets.rfqs import rfqs_normalized
from rfq_pipeline.assets.sources import source_assets
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource
from rfq_pipeline.schedules import source_jobs, source_schedules

all_assets = [*source_assets, rfqs_normalized]

resources = {
    "postgres": PostgresResource(),
    "raw_pages": ObjectStoreResource(role="raw_pages"),
    "http": HttpClientResource(),
}

defs = dg.Definitions(
    assets=all_assets, jobs=list(source_jobs.values()), schedules=source_schedules, resources=resources
)
