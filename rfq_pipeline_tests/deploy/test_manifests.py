"""The raw Kubernetes manifests in helm/ against Kubernetes' schemas, and against what their commands and names need."""

from __future__ import annotations

import re
import shlex

import kubernetes_validate
import pytest
import yaml

from rfq_pipeline.settings import BUCKET_ROLES, Settings
from rfq_pipeline_tests.deploy.support import (
    HELM,
    K8S_VERSION,
    REPO_ROOT,
    prod_values,
    rfq_pipeline_parses,
    values,
)

MANIFESTS = ["migrate-job.yaml", "pool-limits-job.yaml", "config.yaml"]
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/rfq-pipeline:0123abc"
# The keys of the Secret rfq-pipeline-secrets and the setting each one fills.
SECRET_SETTINGS = {
    "DATABASE_URL": "database_url",
    "ANTHROPIC_API_KEY": "anthropic_api_key",
    "RFQ_SLACK_WEBHOOK_URL": "slack_webhook_url",
    "RFQ_QUOTES_SLACK_WEBHOOK_URL": "quotes_slack_webhook_url",
    "HUBSPOT_ACCESS_TOKEN": "hubspot_token",
    "MILLIONVERIFIER_API_KEY": "millionverifier_api_key",
}


def _manifest(name: str) -> dict:
    """The manifest as the deploy step applies it (``envsubst '$RFQ_IMAGE'``)."""
    text = (HELM / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$\{?(\w+)", body)) <= {"RFQ_IMAGE"}, "only $RFQ_IMAGE is substituted"
    (document,) = [doc for doc in yaml.safe_load_all(text.replace("${RFQ_IMAGE}", IMAGE)) if doc is not None]
    return document


def _container(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_a_valid_kubernetes_object(name):
    kubernetes_validate.validate(_manifest(name), K8S_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field():
    job = _manifest("migrate-job.yaml")
    job["spec"]["template"]["spec"]["restartPolicyy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def test_migrate_job_runs_the_documented_migration_with_the_database_secret():
    job = _manifest("migrate-job.yaml")
    container = _container(job)
    assert container["image"] == IMAGE
    assert container["command"][0] == "rfq-pipeline"
    args = rfq_pipeline_parses(container["command"][1:])
    assert (args.command, args.db_command) == ("db", "migrate")
    (database_url,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
    assert database_url["valueFrom"]["secretKeyRef"] == {"name": "rfq-pipeline-secrets", "key": "DATABASE_URL"}
    assert container["envFrom"] == [{"configMapRef": {"name": "rfq-pipeline-config"}}]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert job["spec"]["backoffLimit"] >= 1


def test_pool_limits_job_stores_the_pools_in_the_charts_instance():
    import importlib

    job = _manifest("pool-limits-job.yaml")
    container = _container(job)
    assert container["command"][:2] == ["python", "-m"]
    module = importlib.import_module(container["command"][2])
    assert callable(module.main) and module.POOL_LIMITS["anthropic"] == 1
    env = {e["name"]: e for e in container["env"]}
    dagster_home = env["DAGSTER_HOME"]["value"]
    assert f"DAGSTER_HOME={dagster_home}" in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    secret = env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret == {"name": prod_values()["global"]["postgresqlSecretName"], "key": "postgresql-password"}
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == f"{dagster_home}/dagster.yaml" and mount["subPath"] == "dagster.yaml"
    (volume,) = job["spec"]["template"]["spec"]["volumes"]
    # The chart's instance ConfigMap is `<release>-instance`; the release is named `dagster` (values.yaml header).
    assert volume["configMap"]["name"] == "dagster-instance"
    assert "helm upgrade --install dagster dagster/dagster" in (HELM / "values.yaml").read_text(encoding="utf-8")


def test_config_map_is_settings_the_code_reads():
    config = _manifest("config.yaml")
    assert config["metadata"]["name"] == values()["runLauncher"]["config"]["k8sRunLauncher"]["envConfigMaps"][0]["name"]
    data = config["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values are strings"
    settings = Settings.from_env(data)
    assert set(settings.buckets) == set(BUCKET_ROLES)
    assert settings.aws_region and settings.schedules_running is True
    assert settings.executor in {"multiprocess", "k8s"}
    source = (REPO_ROOT / "rfq_pipeline" / "settings.py").read_text(encoding="utf-8")
    bucket_keys = {f"RFQ_S3_BUCKET_{role.upper()}" for role in BUCKET_ROLES}
    unknown = [key for key in data if key not in bucket_keys and f'"{key}"' not in source]
    assert unknown == [], "keys no setting reads (a typo?)"
    assert not set(data) & set(SECRET_SETTINGS), "secrets belong in rfq-pipeline-secrets"


def test_secret_keys_are_the_settings_secrets():
    lines = (HELM / "secrets.env.example").read_text(encoding="utf-8").splitlines()
    keys = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert all(line.endswith("=") for line in lines if line and not line.startswith("#")), "no values in the example"
    assert sorted(keys) == sorted(SECRET_SETTINGS)
    for key, field in SECRET_SETTINGS.items():
        value = "postgresql://u:p@db.example:5432/rfq?sslmode=require" if key == "DATABASE_URL" else "s3cr3t"
        settings = Settings.from_env({key: value})
        assert getattr(settings, field) == value, key
        assert value not in repr(settings), f"{key} is a secret and must not be printed"


def test_manifest_comments_give_the_commands_the_readme_documents():
    """The apply commands in the manifests' headers use the same names as the manifests."""
    for name in ("migrate-job.yaml", "pool-limits-job.yaml"):
        job = _manifest(name)
        text = (HELM / name).read_text(encoding="utf-8")
        job_name = job["metadata"]["name"]
        assert f"delete job {job_name} --ignore-not-found" in text
        assert f"job/{job_name}" in text
        assert f"envsubst '$RFQ_IMAGE' < helm/{name}" in text
        for command in re.findall(r"^#\s+(kubectl .*|RFQ_IMAGE=.*)$", text, re.M):
            shlex.split(command)  # well-formed shell words
