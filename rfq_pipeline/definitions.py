"""The one ``Definitions`` object of the code location."""

from __future__ import annotations

import dagster as dg

from rfq_pipeline.assets.rfqs import rfqs_normalized
from rfq_pipeline.assets.sources import source_assets
from rfq_pipeline.resources import HttpClientResource, ObjectStoreResource, PostgresResource

all_assets = [*source_assets, rfqs_normalized]

daily_rfq_job = dg.define_asset_job(
    "daily_rfq_job",
    selection=dg.AssetSelection.assets(*all_assets),
    description="Collect every source for one posting day and normalize the result.",
)

resources = {
    "postgres": PostgresResource(),
    "raw_pages": ObjectStoreResource(role="raw_pages"),
    "http": HttpClientResource(),
}

defs = dg.Definitions(assets=all_assets, jobs=[daily_rfq_job], resources=resources)
