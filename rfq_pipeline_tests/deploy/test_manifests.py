"""The raw Kubernetes manifests in helm/ against Kubernetes' schemas, and against what their commands and names need."""

from __future__ import annotations

import json
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

MANIFESTS = ["migrate-job.yaml", "pool-limits-job.yaml", "config.yaml", "desk.yaml"]
IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/rfq-pipeline:0123abc"
# The keys of the Secret rfq-pipeline-secrets and the setting each one fills.
SECRET_SETTINGS = {
    "DATABASE_URL": "database_url",
    "ANTHROPIC_API_KEY": "anthropic_api_key",
    "RFQ_SLACK_WEBHOOK_URL": "slack_webhook_url",
    "RFQ_QUOTES_SLACK_WEBHOOK_URL": "quotes_slack_webhook_url",
    "HUBSPOT_ACCESS_TOKEN": "hubspot_token",
    "MILLIONVERIFIER_API_KEY": "millionverifier_api_key",
    "RFQ_DESK_SECRET_KEY": "desk_secret_key",
}
DESK_SECRET = "0123456789abcdef0123456789abcdef"  # the desk key's minimum length


def _documents(name: str) -> list[dict]:
    """The manifest's objects as the deploy step applies them (``envsubst '$RFQ_IMAGE'``)."""
    text = (HELM / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$\{?(\w+)", body)) <= {"RFQ_IMAGE"}, "only $RFQ_IMAGE is substituted"
    return [doc for doc in yaml.safe_load_all(text.replace("${RFQ_IMAGE}", IMAGE)) if doc is not None]


def _manifest(name: str) -> dict:
    """The one object of a single-object manifest."""
    (document,) = _documents(name)
    return document


def _desk() -> dict[str, dict]:
    """helm/desk.yaml's objects by kind."""
    return {doc["kind"]: doc for doc in _documents("desk.yaml")}


def _desk_ingress() -> dict:
    """The Ingress helm/values-prod.yaml documents for the desk, uncommented."""
    text = (HELM / "values-prod.yaml").read_text(encoding="utf-8")
    block = text.split("# BEGIN desk ingress\n", 1)[1].split("# END desk ingress", 1)[0]
    lines = block.splitlines()
    assert all(line.startswith("# ") for line in lines), "every line of the block is a commented manifest line"
    return yaml.safe_load("\n".join(line[2:] for line in lines))


def _container(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_a_valid_kubernetes_object(name):
    for document in _documents(name):
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_the_documented_desk_ingress_is_a_valid_kubernetes_object():
    kubernetes_validate.validate(_desk_ingress(), K8S_VERSION, strict=True)


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
    values = {
        "DATABASE_URL": "postgresql://u:p@db.example:5432/rfq?sslmode=require",
        "RFQ_DESK_SECRET_KEY": DESK_SECRET,
    }
    for key, field in SECRET_SETTINGS.items():
        value = values.get(key, "s3cr3t")
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
    text = (HELM / "desk.yaml").read_text(encoding="utf-8")
    assert "envsubst '$RFQ_IMAGE' < helm/desk.yaml | kubectl -n rfq apply -f -" in text
    assert f"rollout status deployment/{_desk()['Deployment']['metadata']['name']}" in text
    for command in re.findall(r"^#\s+(kubectl .*|RFQ_IMAGE=.*)$", text, re.M):
        shlex.split(command)


def test_desk_serves_the_documented_command_with_two_replicas_and_probes():
    desk = _desk()
    assert set(desk) == {"Deployment", "Service", "PodDisruptionBudget"}
    deployment, service = desk["Deployment"], desk["Service"]
    assert (
        deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    )
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"][0] == "rfq-pipeline"
    args = rfq_pipeline_parses(container["command"][1:])
    assert (args.command, args.desk_command, args.host) == ("desk", "serve", "0.0.0.0")
    (port,) = container["ports"]
    assert port == {"name": "http", "containerPort": args.port, "protocol": "TCP"} and args.port == 3100
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    # The selectors find the pods, and the Service reaches the container's named port.
    labels = pod["metadata"]["labels"]
    for selector in (deployment["spec"]["selector"]["matchLabels"], service["spec"]["selector"],
                     desk["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):  # fmt: skip
        assert selector.items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "http" and service_port["port"] == 3100
    assert desk["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    spec = pod["spec"]
    assert (
        spec["securityContext"]["runAsNonRoot"] is True
        and container["securityContext"]["allowPrivilegeEscalation"] is False
    )
    assert spec["serviceAccountName"] == values()["dagster-user-deployments"]["serviceAccount"]["name"]


def test_desk_reads_the_same_config_and_secret_as_the_other_pods():
    container = _desk()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    launcher = values()["runLauncher"]["config"]["k8sRunLauncher"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": launcher["envConfigMaps"][0]["name"]}},
        {"secretRef": {"name": launcher["envSecrets"][0]["name"]}},
    ]
    required = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert required == {
        key: {"name": "rfq-pipeline-secrets", "key": key} for key in ("DATABASE_URL", "RFQ_DESK_SECRET_KEY")
    }
    assert set(required) <= set(SECRET_SETTINGS)
    # The desk's non-secret settings are in the ConfigMap, and the settings accept them.
    data = _manifest("config.yaml")["data"]
    assert {"RFQ_DESK_URL", "RFQ_DESK_AUTH", "RFQ_QUOTE_FROM", "RFQ_INTAKE_ADDRESS"} <= set(data)
    settings = Settings.from_env(data)
    assert settings.desk_url.startswith("https://") and settings.desk_auth in ("password", "alb-oidc")
    assert settings.quote_from_address and settings.intake_address


def test_the_desk_ingress_signs_people_in_at_the_load_balancer():
    ingress = _desk_ingress()
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"
    oidc = json.loads(annotations["alb.ingress.kubernetes.io/auth-idp-oidc"])
    assert set(oidc) == {"issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "secretName"}
    assert all(oidc[key].startswith("https://") for key in oidc if key != "secretName")
    assert annotations["alb.ingress.kubernetes.io/auth-on-unauthenticated-request"] == "authenticate"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/healthz"
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    service = _desk()["Service"]
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    assert ingress["spec"]["ingressClassName"] == "alb"
    text = (HELM / "values-prod.yaml").read_text(encoding="utf-8")
    assert "RFQ_DESK_AUTH: alb-oidc" in text and "RFQ_DESK_ALB_ARN" in text
    assert f"create secret generic {oidc['secretName']}" in text and "clientID=" in text and "clientSecret=" in text


def test_the_desk_probe_path_answers_without_a_sign_in(pg_url, tmp_path):
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.desk.app import create_app

    path = _desk()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
    settings = Settings.from_env({"RFQ_DATA_DIR": str(tmp_path), "RFQ_DESK_SECRET_KEY": DESK_SECRET})
    with Database(pg_url, min_size=1, max_size=1) as db:
        client = create_app(settings, db).test_client()
        response = client.get(path)
        assert response.status_code == 200 and not response.headers.get("Set-Cookie")
        assert client.get("/").status_code in (302, 303)  # the rest of the desk asks for a sign-in
