"""The Dockerfile: its commands exist, its pins are pyproject's, and `make image` says when it cannot build.

No Docker engine is needed: the Dockerfile is parsed, and every command it runs or starts is parsed by the CLI that
would run it (`rfq-pipeline` by its argparse parser, `dagster` by Dagster's click CLI).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from rfq_pipeline_tests.deploy.support import REPO_ROOT, dagster_cli_path, rfq_pipeline_parses, values

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction, args in _instructions():
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, args))
    return stages


def _exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), args
    return parsed


def test_multi_stage_slim_non_root():
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
    stages = _stages()
    assert len(stages) >= 2
    assert all(args.startswith("${PYTHON_IMAGE}") for _, args in (stage[0] for stage in stages))
    runtime = stages[-1]
    users = [args for instruction, args in runtime if instruction == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert "COPY --from=build /opt/venv /opt/venv" in DOCKERFILE
    # Nothing of the build stage's sources or caches beyond the virtualenv reaches the runtime stage.
    copies = [args for instruction, args in runtime if instruction == "COPY"]
    assert all(not c.startswith("--from") or c.startswith("--from=build /opt/venv") for c in copies)


def test_default_command_is_the_code_server_the_chart_runs():
    (cmd,) = [args for instruction, args in _stages()[-1] if instruction == "CMD"]
    command = _exec_form(cmd)
    assert command[0] == "dagster"
    path, params = dagster_cli_path(command[1:])
    assert path == ["dagster", "code-server", "start"]
    assert importlib.util.find_spec(params["module_name"]) is not None
    assert params["location_name"] == "rfq_pipeline" and params["host"] == "0.0.0.0"
    (deployment,) = values()["dagster-user-deployments"]["deployments"]
    chart = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(deployment["port"])]
    assert command == [*chart, *deployment["codeServerArgs"]]
    assert f"EXPOSE {deployment['port']}" in DOCKERFILE


def test_healthcheck_is_the_grpc_health_check_of_that_port():
    (healthcheck,) = [args for instruction, args in _stages()[-1] if instruction == "HEALTHCHECK"]
    cmd = _exec_form(healthcheck.split(" CMD ", 1)[1])
    path, params = dagster_cli_path(cmd[1:])
    assert path == ["dagster", "api", "grpc-health-check"]
    (deployment,) = values()["dagster-user-deployments"]["deployments"]
    assert params["port"] == deployment["port"]


def test_every_rfq_pipeline_command_in_the_build_parses():
    runs = [args for instruction, args in _instructions() if instruction == "RUN"]
    commands = [
        shlex.split(segment.strip())
        for run in runs
        for segment in re.split(r"&&|\|\||;", run)
        if segment.strip().startswith("rfq-pipeline ")
    ]
    assert ["rfq-pipeline", "models", "build"] in commands
    for command in commands:
        rfq_pipeline_parses(command[1:])
    # The models are built in the build stage and, as the runtime user, found (not rebuilt) in the final one.
    assert any(instruction == "RUN" and "rfq-pipeline models build" in args for instruction, args in _stages()[0])
    assert any(instruction == "RUN" and "rfq-pipeline models build" in args for instruction, args in _stages()[-1])


def test_nothing_is_downloaded_at_run_time():
    runtime_env = " ".join(args for instruction, args in _stages()[-1] if instruction == "ENV")
    assert "HF_HUB_OFFLINE=1" in runtime_env and "TRANSFORMERS_OFFLINE=1" in runtime_env
    # Migrations are where `rfq-pipeline db migrate` reads them in the image.
    assert "RFQ_MIGRATIONS_DIR=/app/sql" in runtime_env
    assert "COPY sql ./sql" in DOCKERFILE and "WORKDIR /app" in DOCKERFILE


def test_torch_is_the_cpu_build_at_pyprojects_pin():
    deps = [Requirement(d) for d in PYPROJECT["project"]["dependencies"]]
    (torch,) = [d for d in deps if d.name == "torch"]
    assert str(torch.specifier).startswith("==")
    assert "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in DOCKERFILE
    assert '--index-url "${TORCH_INDEX_URL}"' in DOCKERFILE
    assert 'd.startswith("torch==")' in DOCKERFILE  # the pin is read from pyproject.toml, not repeated
    assert "torch.version.cuda is None" in DOCKERFILE


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_dependency_with_pyprojects_pins():
    pins = _constraints()
    assert all("+" not in version for version in pins.values()), "no local version labels (+cpu)"
    for extra_deps in [PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"].values()]:
        for dep in map(Requirement, extra_deps):
            name = canonicalize_name(dep.name)
            assert name in pins, f"{dep.name} is not in constraints.txt (run `make constraints`)"
            assert dep.specifier.contains(pins[name], prereleases=True), f"{dep} vs constraints {pins[name]}"
    assert "PIP_CONSTRAINT=/src/constraints.txt" in DOCKERFILE


def test_dockerignore_keeps_local_state_and_built_models_out():
    ignore = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore.index("**") < ignore.index("!rfq_pipeline/") < ignore.index("rfq_pipeline/ai/models/")
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, re.M)
    for sources in copied:
        for source in sources.split():
            assert (REPO_ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in {line.rstrip("/") for line in ignore}, f"{source} is ignored"


@pytest.mark.timeout(60)
def test_make_image_says_so_without_a_docker_engine():
    result = subprocess.run(
        ["make", "--no-print-directory", "image", "DOCKER=docker-not-installed-here"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "no image was built" in result.stderr
    assert "docker-not-installed-here build -t rfq-pipeline:dev ." in result.stderr
