"""Loading the deploy files and the schemas they are checked against (all local: nothing is fetched)."""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

REPO_ROOT = Path(__file__).resolve().parents[2]
HELM = REPO_ROOT / "helm"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# Kubernetes version the manifests and pod fragments are validated for (a current EKS version).
K8S_VERSION = "1.33"
# Where the chart's values schema points its Kubernetes $refs; resolved to kubernetes-validate's copy.
_K8S_REF_BASE = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
_LOCAL_K8S_BASE = "urn:rfq-pipeline:k8s-definitions"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def helm_merge(base: Any, override: Any) -> Any:
    """Helm's merge of values files: maps merge key by key, anything else (lists too) replaces; null deletes."""
    if not isinstance(base, Mapping) or not isinstance(override, Mapping):
        return copy.deepcopy(override)
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def values() -> dict[str, Any]:
    return load_yaml(HELM / "values.yaml")


def prod_values() -> dict[str, Any]:
    return helm_merge(values(), load_yaml(HELM / "values-prod.yaml"))


def without_required(schema: Any) -> Any:
    """``schema`` without ``required`` lists (for values files the chart completes with its own defaults)."""
    if isinstance(schema, dict):
        return {k: without_required(v) for k, v in schema.items() if k != "required"}
    if isinstance(schema, list):
        return [without_required(v) for v in schema]
    return schema


@cache
def _k8s_definitions(strict: bool) -> dict[str, Any]:
    """kubernetes-validate's ``_definitions.json`` as a draft-7 document with the definitions under ``definitions``."""
    import importlib.resources

    folder = f"v{K8S_VERSION}.0-local" + ("-strict" if strict else "")
    text = (
        importlib.resources.files("kubernetes_validate")
        .joinpath("kubernetes-json-schema", folder, "_definitions.json")
        .read_text(encoding="utf-8")
    )
    text = text.replace('"/api/_definitions.json#/$defs/', '"#/definitions/').replace('"#/$defs/', '"#/definitions/')
    return {"definitions": json.loads(text)["$defs"]}


@cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for strict in (False, True):
        resource = Resource.from_contents(_k8s_definitions(strict), default_specification=DRAFT7)
        registry = registry.with_resource(f"{_LOCAL_K8S_BASE}:{'strict' if strict else 'loose'}", resource)
    # The chart's schema refers to the (non-strict) definitions at kubernetesjsonschema.dev.
    loose = Resource.from_contents(_k8s_definitions(False), default_specification=DRAFT7)
    return registry.with_resource(_K8S_REF_BASE, loose)


def chart_schema_errors(document: Mapping[str, Any]) -> list[str]:
    """Errors of ``document`` against the vendored chart schema (``required`` dropped) and the concurrency overlay."""
    errors = []
    for name in ("dagster-chart-values.schema.json", "dagster-chart-concurrency.schema.json"):
        schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        if name == "dagster-chart-values.schema.json":
            schema = without_required(schema)
        validator = jsonschema.Draft7Validator(schema, registry=_registry())
        errors += [
            f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)
        ]
    return errors


def k8s_errors(fragment: Any, definition: str, *, partial: bool = False) -> list[str]:
    """Errors of ``fragment`` against a strict Kubernetes definition (``partial``: its required fields dropped)."""
    schema: dict[str, Any] = {"$ref": f"{_LOCAL_K8S_BASE}:strict#/definitions/{definition}"}
    if partial:
        schema = without_required(_k8s_definitions(True)["definitions"][definition])
        schema = json.loads(json.dumps(schema).replace('"#/definitions/', f'"{_LOCAL_K8S_BASE}:strict#/definitions/'))
    validator = jsonschema.Draft7Validator(schema, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(fragment)]


def dagster_cli_path(args: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """Parse ``dagster <args>`` with Dagster's own click CLI (without running it): the command path and its params."""
    import click
    from dagster._cli import create_dagster_cli

    command: click.Command = create_dagster_cli()
    context = command.make_context("dagster", list(args))
    path = ["dagster"]
    while isinstance(command, click.Group):
        protected = getattr(context, "_protected_args", None)
        if protected is None:
            protected = context.protected_args
        name, sub, rest = command.resolve_command(context, [*protected, *context.args])
        assert name is not None and sub is not None, f"dagster {' '.join(args)}: no sub-command"
        path.append(name)
        context = sub.make_context(name, rest, parent=context)
        command = sub
    return path, dict(context.params)


def rfq_pipeline_parses(args: Sequence[str]) -> Any:
    """Parse ``rfq-pipeline <args>`` with the CLI's parser; a parse error fails the calling test."""
    from rfq_pipeline.cli import build_parser

    try:
        return build_parser().parse_args(list(args))
    except SystemExit as exc:  # argparse exits on a bad command line
        raise AssertionError(f"`rfq-pipeline {shlex.join(args)}` does not parse (exit {exc.code})") from exc
