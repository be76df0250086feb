"""``reports/daily`` on seeded data: the numbers, the chart (a real PNG) in the metadata and in the exports store."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
from PIL import Image

from rfq_pipeline.assets.buyers import buyer_assets
from rfq_pipeline.assets.quotes import quote_assets
from rfq_pipeline.assets.reports import report_assets
from rfq_pipeline.definitions import resources
from rfq_pipeline_tests.assets.test_quote_assets import PARTITION, env, seeded  # noqa: F401 (fixtures)


def test_daily_report_counts_and_charts_the_window(env: str, tmp_path: Path) -> None:  # noqa: F811
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*buyer_assets, *quote_assets, *report_assets],
            partition_key=PARTITION,
            resources=resources,
            instance=instance,
        )
    assert result.success
    metadata = result.asset_materializations_for_node("reports__daily")[0].metadata
    # seeded: three alibaba RFQs, two relevant (one request and its repost), one duplicate, one draft
    assert metadata["rfqs"].value == 3 and metadata["drafts"].value == 1
    assert metadata["quotes_sent"].value == 0 and "| 2025-07-13 | 0 |" in metadata["quotes_sent_per_day"].value
    assert metadata["relevant_share"].value == round(2 / 3, 4) and metadata["duplicate_rate"].value == round(1 / 3, 4)
    assert "| alibaba_rfq | 3 | 67% | 33% | 1 |" in metadata["by_source"].value
    chart = metadata["chart"].value
    png = base64.b64decode(chart.split("base64,", 1)[1].rstrip(")"))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (900, 360)
    stored = Path(unquote(urlsplit(metadata["chart_uri"].value).path))
    assert stored.read_bytes() == png and f"date={PARTITION}" in str(stored)
