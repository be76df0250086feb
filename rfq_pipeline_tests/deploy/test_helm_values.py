"""helm/values.yaml and helm/values-prod.yaml against the dagster chart's schema, dagster.yaml and each other."""

from __future__ import annotations

import copy

import pytest
import yaml

from rfq_pipeline.devtools import helm_values
from rfq_pipeline.ops.concurrency import instance_settings
from rfq_pipeline_tests.deploy.support import (
    HELM,
    REPO_ROOT,
    chart_schema_errors,
    dagster_cli_path,
    k8s_errors,
    load_yaml,
    prod_values,
    values,
)

VALUE_SETS = {"values.yaml": values, "values.yaml + values-prod.yaml": prod_values}


def _deployment(vals: dict) -> dict:
    (deployment,) = vals["dagster-user-deployments"]["deployments"]
    return deployment


def _launcher(vals: dict) -> dict:
    return vals["runLauncher"]["config"]["k8sRunLauncher"]


@pytest.mark.parametrize("name", VALUE_SETS)
def test_values_match_the_chart_schema(name):
    assert chart_schema_errors(VALUE_SETS[name]()) == []


def test_schema_check_catches_unknown_keys_and_wrong_types():
    bad = values()
    bad["dagsterDaemon"]["runCoordinator"]["maxConcurrentRuns"] = 8  # belongs under config.queuedRunCoordinator
    bad["concurrency"]["runs"]["maxConcurentRuns"] = 8
    _deployment(bad)["port"] = "3030"
    errors = "\n".join(chart_schema_errors(bad))
    assert "'maxConcurrentRuns' was unexpected" in errors
    assert "'maxConcurentRuns' was unexpected" in errors
    assert "'3030' is not of type 'integer'" in errors


def test_generated_blocks_are_up_to_date_with_dagster_yaml():
    text = (HELM / "values.yaml").read_text(encoding="utf-8")
    assert helm_values.render(text) == text, "run `make helm-values`"
    assert helm_values.main(["--check"]) == 0


def test_check_fails_when_a_limit_drifts(tmp_path, capsys):
    drifted = (HELM / "values.yaml").read_text(encoding="utf-8").replace("maxConcurrentRuns: 8", "maxConcurrentRuns: 9")
    path = tmp_path / "values.yaml"
    path.write_text(drifted, encoding="utf-8")
    assert helm_values.main(["--check", "--values", str(path)]) == 1
    assert "differ from dagster.yaml" in capsys.readouterr().err
    assert helm_values.main(["--values", str(path)]) == 0
    assert "maxConcurrentRuns: 8" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", VALUE_SETS)
def test_queue_limits_equal_dagster_yaml(name):
    """What the chart renders into the instance's dagster.yaml is dagster.yaml's run queue, key for key."""
    vals = VALUE_SETS[name]()
    local = instance_settings()
    rendered = helm_values.instance_sections_from_chart(vals)
    assert rendered["concurrency"] == local["concurrency"]
    assert rendered["run_monitoring"] == local["run_monitoring"]
    assert rendered["concurrency"]["runs"]["max_concurrent_runs"] == 8
    assert {"key": "rfq/source", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in rendered["concurrency"][
        "runs"
    ]["tag_concurrency_limits"]
    # The same coordinator as dagster.yaml, with no limits of its own (Dagster refuses limits in both places).
    coordinator = vals["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == local["run_coordinator"]["class"]
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits", "blockOpConcurrencyLimitedRuns"} & set(queued)


def test_prod_overrides_leave_the_queue_and_the_deployment_list_alone():
    prod = load_yaml(HELM / "values-prod.yaml")
    assert "concurrency" not in prod
    assert "runMonitoring" not in prod.get("dagsterDaemon", {})
    assert "runCoordinator" not in prod.get("dagsterDaemon", {})
    # A list in an override replaces the base list whole: the user deployment is defined once, in values.yaml.
    assert "deployments" not in prod.get("dagster-user-deployments", {})


def test_rendered_queue_is_an_instance_config_dagster_accepts(tmp_path):
    """The instance sections the chart renders load in Dagster 1.13 (which rejects conflicting queue settings)."""
    from dagster._core.instance.config import dagster_instance_config

    sections = helm_values.instance_sections_from_chart(prod_values())
    instance = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({**instance, **sections}), encoding="utf-8")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 8

    # Limits in the coordinator as well would not load: the reason the coordinator's config stays empty.
    conflicting = copy.deepcopy(instance)
    conflicting["run_coordinator"]["config"] = {"max_concurrent_runs": 8}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({**conflicting, **sections}), encoding="utf-8")
    with pytest.raises(Exception, match="incompatible"):
        dagster_instance_config(str(tmp_path))


def test_external_postgres_with_the_password_from_a_secret():
    prod = prod_values()
    assert prod["postgresql"]["enabled"] is False
    assert prod["generatePostgresqlPasswordSecret"] is False
    assert prod["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    assert "postgresqlPassword" not in prod["postgresql"]
    assert prod["postgresql"]["postgresqlHost"].endswith(".rds.amazonaws.com")
    assert prod["postgresql"]["postgresqlParams"]["sslmode"] == "require"


def test_workspace_serves_the_one_code_location_of_workspace_yaml():
    vals = values()
    deployment = _deployment(vals)
    (server,) = vals["dagsterWebserver"]["workspace"]["servers"]
    (local,) = [entry["python_module"] for entry in load_yaml(REPO_ROOT / "workspace.yaml")["load_from"]]
    assert server == {"host": deployment["name"], "port": deployment["port"], "name": local["location_name"]}


def test_user_deployment_runs_the_code_server_of_the_image():
    deployment = _deployment(values())
    # The chart runs `dagster code-server start -h 0.0.0.0 -p <port> <codeServerArgs>`.
    args = ["code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"]), *deployment["codeServerArgs"]]
    path, params = dagster_cli_path(args)
    assert path == ["dagster", "code-server", "start"]
    assert params["module_name"] == "rfq_pipeline.definitions"
    assert params["location_name"] == "rfq_pipeline"
    assert deployment["image"] == {"repository": "rfq-pipeline", "tag": "dev", "pullPolicy": "IfNotPresent"}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_code_server_and_runs_get_the_secrets_config_and_service_account(name):
    vals = VALUE_SETS[name]()
    deployment, launcher = _deployment(vals), _launcher(vals)
    secrets = [{"name": "rfq-pipeline-secrets"}]
    config_maps = [{"name": "rfq-pipeline-config"}]
    assert deployment["envSecrets"] == launcher["envSecrets"] == secrets
    assert deployment["envConfigMaps"] == launcher["envConfigMaps"] == config_maps
    # Runs take env, resources and service account from the launcher, not from the code server's deployment.
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}
    service_account = vals["dagster-user-deployments"]["serviceAccount"]
    assert service_account["create"] is True
    assert launcher["runK8sConfig"]["podSpecConfig"]["serviceAccountName"] == service_account["name"]
    assert vals["runLauncher"]["type"] == "K8sRunLauncher"


def test_prod_service_account_has_an_irsa_role():
    annotations = prod_values()["dagster-user-deployments"]["serviceAccount"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert ":role/" in annotations["eks.amazonaws.com/role-arn"]
    assert values()["dagster-user-deployments"]["serviceAccount"]["annotations"] == {}


@pytest.mark.parametrize("name", VALUE_SETS)
def test_pod_fragments_are_kubernetes_objects(name):
    vals = VALUE_SETS[name]()
    deployment, launcher = _deployment(vals), _launcher(vals)
    for where, fragment, definition in [
        ("runLauncher resources", launcher["resources"], "io.k8s.api.core.v1.ResourceRequirements"),
        ("runLauncher securityContext", launcher["securityContext"], "io.k8s.api.core.v1.SecurityContext"),
        ("runK8sConfig.podSpecConfig", launcher["runK8sConfig"]["podSpecConfig"], "io.k8s.api.core.v1.PodSpec"),
        ("deployment resources", deployment["resources"], "io.k8s.api.core.v1.ResourceRequirements"),
        ("deployment podSecurityContext", deployment["podSecurityContext"], "io.k8s.api.core.v1.PodSecurityContext"),
        ("deployment securityContext", deployment["securityContext"], "io.k8s.api.core.v1.SecurityContext"),
        ("webserver resources", vals["dagsterWebserver"]["resources"], "io.k8s.api.core.v1.ResourceRequirements"),
        ("daemon resources", vals["dagsterDaemon"]["resources"], "io.k8s.api.core.v1.ResourceRequirements"),
    ]:
        assert k8s_errors(fragment, definition, partial=True) == [], where


def test_runs_and_code_server_run_as_the_image_user():
    vals = values()
    pod = _launcher(vals)["runK8sConfig"]["podSpecConfig"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
    assert _deployment(vals)["podSecurityContext"]["runAsUser"] == 10001
    dockerfile = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG UID=10001" in dockerfile and "USER ${UID}:${UID}" in dockerfile


def test_chart_version_is_the_dagster_pin():
    import tomllib

    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (dagster_pin,) = [d.split("==")[1] for d in deps if d.startswith("dagster==")]
    text = (HELM / "values.yaml").read_text(encoding="utf-8")
    assert f"chart version {dagster_pin}" in text
    assert f"--version {dagster_pin}" in text
