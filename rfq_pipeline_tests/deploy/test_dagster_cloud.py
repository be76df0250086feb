"""dagster_cloud.yaml (Dagster+ Hybrid) and workspace.yaml load the same code location as the Helm deployment."""

from __future__ import annotations

import copy
import importlib
import json
import tomllib

import jsonschema
import pytest
import yaml

from rfq_pipeline.devtools import helm_values
from rfq_pipeline.ops.concurrency import instance_settings
from rfq_pipeline_tests.deploy.support import REPO_ROOT, SCHEMAS, load_yaml, prod_values, values

SCHEMA = json.loads((SCHEMAS / "dagster-cloud-yaml.schema.json").read_text(encoding="utf-8"))


def _cloud() -> dict:
    return load_yaml(REPO_ROOT / "dagster_cloud.yaml")


def _location() -> dict:
    (location,) = _cloud()["locations"]
    return location


def test_dagster_cloud_yaml_matches_the_cli_schema():
    jsonschema.Draft7Validator(SCHEMA).validate(_cloud())


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["locations"][0].update(code_source={"module_name": "a", "package_name": "b"}),
        lambda c: c["locations"][0].update(location="rfq_pipeline"),
        lambda c: c["locations"][0]["build"].update(dockerfile="Dockerfile"),
        lambda c: c["locations"][0].pop("location_name"),
    ],
)
def test_schema_rejects_what_the_cli_rejects(change):
    cloud = copy.deepcopy(_cloud())
    change(cloud)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(cloud)


def test_same_code_location_everywhere():
    """workspace.yaml (OSS), pyproject's [tool.dagster], the Helm workspace and Dagster+ name one location."""
    location = _location()
    (workspace,) = [entry["python_module"] for entry in load_yaml(REPO_ROOT / "workspace.yaml")["load_from"]]
    tool = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["dagster"]
    (server,) = values()["dagsterWebserver"]["workspace"]["servers"]
    assert location["location_name"] == workspace["location_name"] == tool["code_location_name"] == server["name"]
    assert location["code_source"]["module_name"] == workspace["module_name"] == tool["module_name"]
    module = importlib.import_module(location["code_source"]["module_name"])
    import dagster as dg

    assert isinstance(module.defs, dg.Definitions)
    assert (REPO_ROOT / location["build"]["directory"] / "Dockerfile").is_file()


def test_workspace_yaml_loads_the_definitions():
    """What `dagster dev -w workspace.yaml` and the OSS daemon load: the same Definitions object."""
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")])
    (origin,) = target.create_origins()
    assert origin.location_name == "rfq_pipeline"
    assert origin.loadable_target_origin.module_name == "rfq_pipeline.definitions"


def test_container_context_is_what_dagster_k8s_accepts():
    """The Dagster+ k8s agent parses container_context.k8s with dagster-k8s's K8sContainerContext."""
    from dagster_k8s.container_context import K8sContainerContext

    context = K8sContainerContext.create_from_config(_location()["container_context"])
    prod = prod_values()
    launcher = prod["runLauncher"]["config"]["k8sRunLauncher"]
    (deployment,) = prod["dagster-user-deployments"]["deployments"]
    # The same secrets, config, service account and resources as the Helm deployment, for runs and code server.
    env_from = [{"config_map_ref": {"name": c["name"]}} for c in launcher["envConfigMaps"]]
    env_from += [{"secret_ref": {"name": s["name"]}} for s in launcher["envSecrets"]]
    service_account = prod["dagster-user-deployments"]["serviceAccount"]["name"]
    for config, resources in [
        (context.run_k8s_config, launcher["resources"]),
        (context.server_k8s_config, deployment["resources"]),
    ]:
        assert config.container_config["env_from"] == env_from
        assert config.container_config["resources"] == resources
        assert config.pod_spec_config["service_account_name"] == service_account
    assert context.run_k8s_config.pod_spec_config["security_context"]["run_as_user"] == 10001
    assert context.namespace == "rfq"

    broken = copy.deepcopy(_location()["container_context"])
    broken["k8s"]["env_secret"] = ["typo"]
    with pytest.raises(Exception, match="env_secret"):
        K8sContainerContext.create_from_config(broken)


def test_dagster_plus_deployment_settings_carry_the_same_queue(capsys):
    assert helm_values.main(["--dagster-plus"]) == 0
    settings = yaml.safe_load(capsys.readouterr().out)
    local = instance_settings()
    assert settings["concurrency"] == local["concurrency"]
    assert settings["run_monitoring"]["start_timeout_seconds"] == local["run_monitoring"]["start_timeout_seconds"]
