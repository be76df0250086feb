"""Archives uploaded under imports/<source>/ on a moto server: the uploads sensor records them, the imports/archives
asset loads them (a refused archive is a recorded failure with the reason), and the stages follow for the days."""

from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.assets.imports import IMPORTS_KEY, ROWS_CHECK, imports_archives
from rfq_pipeline.aws.clients import boto3_client
from rfq_pipeline.aws.naming import bucket_name
from rfq_pipeline.definitions import defs, pipeline_assets, resources
from rfq_pipeline.devtools.local_aws import local_aws
from rfq_pipeline.devtools.simulator.catalog import CORPUS
from rfq_pipeline.sensors.intake import import_stage_requests, uploads_sensor
from rfq_pipeline.settings import Settings


@pytest.fixture()
def aws(pipeline_env: Settings) -> Iterator[Settings]:
    with local_aws():
        yield Settings.from_env()


def _put(settings: Settings, key: str, body: bytes) -> None:
    boto3_client("s3", settings).put_object(Bucket=bucket_name(settings, "uploads"), Key=key, Body=body)


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_an_uploaded_archive_is_imported_once_and_its_days_run_through_the_stages(aws: Settings) -> None:
    board = (CORPUS / "alibaba_rfq_uae_2025-07.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:31]
    _put(aws, "imports/alibaba_archive/board-2025-07.csv", "".join(board).encode())
    _put(aws, "imports/leads/mapping.yaml", b"columns: {title: Product, posted: Date, external_id: Ref}\n")
    _put(aws, "imports/leads/leads.csv", b"Ref,Product,Date\nL1,Rose water,2025-07-02\nL2,,2025-07-03\n")
    _put(aws, "imports/stray.csv", b"Ref,Product\n")  # no source folder: refused with the reason
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            tick = uploads_sensor(context)
        [request] = [r for r in tick.run_requests if r.job_name == "import_archives_job"]
        assert len(request.run_config["ops"]["imports__archives"]["config"]["request_keys"]) == 3
        result = dg.materialize([imports_archives], run_config=request.run_config, resources=resources,
                                instance=instance)  # fmt: skip
        assert result.success
        [check] = result.get_asset_check_evaluations()
        assert check.check_name == ROWS_CHECK and not check.passed
        assert check.metadata["bad_rows"].value == 1 and check.metadata["archives_refused"].value == 1
        statuses = dict(_rows(aws.database_url, "SELECT payload->>'key', status FROM intake_requests"))
        assert statuses == {
            "imports/alibaba_archive/board-2025-07.csv": "done",
            "imports/leads/leads.csv": "done",
            "imports/stray.csv": "failed",
        }
        counts = dict(_rows(aws.database_url, "SELECT source, count(*) FROM rfqs GROUP BY source"))
        assert counts == {"alibaba_archive": 30, "leads": 1}

        # A later tick finds nothing new: the same bytes are not imported twice.
        with dg.build_sensor_context(instance=instance, resources=resources, cursor=tick.cursor) as context:
            again = uploads_sensor(context)
        assert [r for r in again.run_requests if r.job_name == "import_archives_job"] == []

        # The stages follow for the days loaded, one run per range, as import_stages_sensor requests them.
        stage_requests = import_stage_requests(instance, result.run_id)
        assert stage_requests
        for stage_request in stage_requests:
            stages = dg.materialize(pipeline_assets, selection=[dg.AssetKey(["rfqs", "normalized"])],
                                    resources=resources, instance=instance, tags=stage_request.tags)  # fmt: skip
            assert stages.success
    normalized = _rows(aws.database_url, "SELECT count(*) FROM rfqs WHERE normalized_at IS NOT NULL")[0][0]
    assert normalized == 31


def test_the_import_asset_is_in_the_graph_upstream_of_normalization() -> None:
    graph = defs.resolve_asset_graph()
    assert IMPORTS_KEY in graph.get(dg.AssetKey(["rfqs", "normalized"])).parent_keys
    sensor = defs.resolve_sensor_def("import_stages_sensor")
    assert [job.name for job in sensor.jobs] == ["import_stages_job"]
    assert defs.resolve_job_def("import_archives_job").asset_layer.executable_asset_keys == {IMPORTS_KEY}
