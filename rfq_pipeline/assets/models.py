"""The local models as assets: ``labels/training_set`` decides when enough new labels arrived, ``models/classifier``
trains a version on them, evaluates it on the dev folds and promotes it only if it beats the current one;
``models/static_embedder`` does the same for the distilled embedder, weekly, on the stored RFQs' text.

Thin wrappers over :mod:`rfq_pipeline.ai.model_registry` and :mod:`rfq_pipeline.ai.corrections`.

The retraining rule is declarative: ``labels/training_set`` is evaluated on a half-hourly tick and materializes
only when at least ``RFQ_RETRAIN_AFTER_LABELS`` labels (people's and Claude's) arrived since its last
materialization; ``models/classifier`` follows it. A version that does not beat the current one is reported as an
observation (its figures and the reason are in the UI all the same) so ``rfqs/classified`` re-labels the recent
days only after a promotion.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from rfq_pipeline.ai.classifier import CLASSIFIER_CODE_VERSION
from rfq_pipeline.ai.model_registry import STATIC_CODE_VERSION, TrainingOutcome
from rfq_pipeline.assets.metadata import markdown_table
from rfq_pipeline.resources import ObjectStoreResource, PostgresResource
from rfq_pipeline.settings import Settings

TRAINING_SET_KEY = dg.AssetKey(["labels", "training_set"])
CLASSIFIER_MODEL_KEY = dg.AssetKey(["models", "classifier"])
STATIC_EMBEDDER_KEY = dg.AssetKey(["models", "static_embedder"])
# Weekly: the stored RFQs grow slowly, and a promoted table re-embeds the recent days.
EMBEDDER_CRON = "0 3 * * 0"
RETRAIN_TICK = "*/30 * * * *"

RETRAIN_CONDITION = (
    dg.AutomationCondition.cron_tick_passed(RETRAIN_TICK) & ~dg.AutomationCondition.in_progress()
).with_label(f"every half hour ({RETRAIN_TICK}); materializes only after enough new labels")

MODEL_CONDITION = (
    (dg.AutomationCondition.any_deps_updated() | dg.AutomationCondition.code_version_changed()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after new training labels or a new classifier code version")


def _last_total(context: dg.AssetExecutionContext) -> int:
    event = context.instance.get_latest_materialization_event(TRAINING_SET_KEY)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("labels_total") if materialization else None
    return int(value.value) if value is not None else 0  # type: ignore[arg-type]


@dg.asset(
    key=TRAINING_SET_KEY,
    group_name="models",
    kinds={"postgres"},
    owners=["team:data-science"],
    output_required=False,
    automation_condition=RETRAIN_CONDITION,
    description="The labels people (desk, `rfq-pipeline label`) and Claude gave stored RFQs, as training data with "
    "their provenance. Materializes only when RFQ_RETRAIN_AFTER_LABELS new labels arrived, which retrains the model.",
)
def labels_training_set(context: dg.AssetExecutionContext, postgres: PostgresResource) -> Iterator[dg.Output[None]]:
    """Count the labels and materialize (triggering a retrain) when enough are new since the last materialization."""
    from rfq_pipeline.ai.corrections import label_counts, training_set

    settings = Settings.from_env()
    with postgres.db.connection() as conn:
        counts = label_counts(conn)
        people = training_set(conn, targets=settings.target_industries)
    total = sum(counts.values())
    new = total - _last_total(context)
    metadata: dict[str, Any] = {
        "labels_total": total,
        "labels_new": new,
        "retrain_after_labels": settings.retrain_after_labels,
        "human_labels": counts["human"],
        "claude_labels": counts["claude"],
        "training_examples": len(people.examples),
        "examples_by_source": dg.MetadataValue.json(people.by_source),
        "left_out": dg.MetadataValue.json(people.skipped),
    }
    if new < settings.retrain_after_labels:
        context.log.info(f"{new} new labels since the last training set; retraining waits for "
                         f"{settings.retrain_after_labels}")  # fmt: skip
        context.log_event(dg.AssetObservation(asset_key=TRAINING_SET_KEY, metadata=metadata))
        return
    yield dg.Output(None, metadata={**metadata, "dagster/row_count": len(people.examples)})


def _protocol_rows(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, figures in evaluation["protocols"].items():
        for subset in ("all", "high_confidence"):
            m = figures[subset]
            rows.append({
                "protocol": name, "rows": m["rows"], "subset": subset,
                "industry_acc": f"{m['industry_accuracy']:.3f}", "relevance_P": f"{m['relevance_precision']:.3f}",
                "relevance_R": f"{m['relevance_recall']:.3f}", "relevance_F1": f"{m['relevance_f1']:.3f}",
            })  # fmt: skip
    return rows


def _confusion_markdown(matrix: dict[str, dict[str, int]]) -> dg.MetadataValue:
    names = sorted(set(matrix) | {p for row in matrix.values() for p in row})
    short = [n.split("_")[0][:8] for n in names]
    lines = ["| labeled \\ predicted | " + " | ".join(short) + " |", "|---|" + "---|" * len(names)]
    for truth in names:
        if truth in matrix:
            lines.append(f"| {truth} | " + " | ".join(str(matrix[truth].get(p, 0) or "") for p in names) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def evaluation_metadata(evaluation: dict[str, Any]) -> dict[str, Any]:
    """A version's evaluation as UI metadata: the protocols, confusion matrix, per-industry F1 and abstention."""
    cv = evaluation["protocols"]["cv"]
    return {
        "score": dg.MetadataValue.float(float(evaluation["score"])),
        "evaluation_id": evaluation["evaluation_id"],
        "cv_industry_accuracy": dg.MetadataValue.float(round(cv["all"]["industry_accuracy"], 4)),
        "cv_relevance_f1": dg.MetadataValue.float(round(cv["all"]["relevance_f1"], 4)),
        "evaluation": markdown_table(
            _protocol_rows(evaluation),
            ["protocol", "subset", "rows", "industry_acc", "relevance_P", "relevance_R", "relevance_F1"],
            limit=12,
        ),
        "confusion_matrix": _confusion_markdown(evaluation["confusion_matrix"]),
        "per_industry_f1": markdown_table(
            [{"industry": k, **v} for k, v in evaluation["per_industry_f1"].items()],
            ["industry", "rows", "f1"],
            limit=30,
        ),
        "abstention": markdown_table(
            [
                {k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in point.items()}
                for point in evaluation["abstention"]
            ],
            ["threshold", "coverage", "accuracy_above", "accuracy_below", "relevance_f1_above"],
        ),
    }


def _decision(outcome: TrainingOutcome) -> dict[str, Any]:
    candidate = outcome.candidate
    return {
        "version": candidate.version,
        "decision": "promoted" if outcome.promoted else "kept current",
        "reason": outcome.reason,
        "current_version": candidate.version if outcome.promoted else outcome.current_before.version,
    }


def _report(
    context: dg.AssetExecutionContext, key: dg.AssetKey, outcome: TrainingOutcome, metadata: dict[str, Any]
) -> Iterator[dg.Output[None]]:
    """A promotion (or the asset's first run) is a materialization, whose data version is the current version, so
    the stages below follow; a version that did not win is an observation with the same figures."""
    context.log.info(f"{outcome.candidate.version}: {metadata['decision']} ({outcome.reason})")
    if outcome.promoted or context.instance.get_latest_materialization_event(key) is None:
        yield dg.Output(None, metadata=metadata, data_version=dg.DataVersion(str(metadata["current_version"])))
    else:
        context.log_event(dg.AssetObservation(asset_key=key, metadata=metadata))


@dg.asset(
    key=CLASSIFIER_MODEL_KEY,
    deps=[TRAINING_SET_KEY],
    group_name="models",
    kinds={"scikitlearn"},
    owners=["team:data-science"],
    output_required=False,
    code_version=CLASSIFIER_CODE_VERSION,
    automation_condition=MODEL_CONDITION,
    description="Trains a version of the local classifier on the dev labels plus people's and Claude's labels, "
    "evaluates it on the dev folds (cross-validation and cross-marketplace), and promotes it only if it beats the "
    "current version; the decision and its reason are recorded either way (model_versions).",
)
def models_classifier(
    context: dg.AssetExecutionContext, postgres: PostgresResource, models: ObjectStoreResource
) -> Iterator[dg.Output[None]]:
    """Train, evaluate and maybe promote; materialize when the current version changed, else observe."""
    from rfq_pipeline.ai.model_registry import train_classifier

    settings = Settings.from_env()
    with postgres.db.connection() as conn:
        outcome = train_classifier(conn, models.get_store(), targets=settings.target_industries,
                                   run_id=context.run.run_id)  # fmt: skip
    candidate, people = outcome.candidate, outcome.people
    assert people is not None  # a classifier training always says what it learned from
    metadata: dict[str, Any] = {
        **_decision(outcome),
        "current_score": dg.MetadataValue.float(float(outcome.current_score or outcome.current_before.score)),
        "training_people": dg.MetadataValue.json(people.by_source),
        "training_left_out": dg.MetadataValue.json(people.skipped),
        **evaluation_metadata(candidate.evaluation),
    }
    yield from _report(context, CLASSIFIER_MODEL_KEY, outcome, metadata)


@dg.asset(
    key=STATIC_EMBEDDER_KEY,
    group_name="models",
    kinds={"pytorch", "numpy"},
    owners=["team:data-science"],
    output_required=False,
    code_version=STATIC_CODE_VERSION,
    automation_condition=(
        dg.AutomationCondition.cron_tick_passed(EMBEDDER_CRON) & ~dg.AutomationCondition.in_progress()
    ).with_label(f"weekly ({EMBEDDER_CRON})"),
    description="Distills a version of the static embedder from all-MiniLM-L6-v2 on the project's marketplace text "
    "plus the stored RFQs, evaluates it (agreement with the teacher on held-out text, dedup pair AUC on the labeled "
    "set) and promotes it only if it beats the current version; a promoted version gets its own vector index and "
    "re-embeds the recent days through rfqs/embedded.",
)
def models_static_embedder(
    context: dg.AssetExecutionContext, postgres: PostgresResource, models: ObjectStoreResource
) -> Iterator[dg.Output[None]]:
    """Distill, evaluate and maybe promote; materialize when the current version changed, else observe."""
    from rfq_pipeline.ai.model_registry import train_static_embedder

    settings = Settings.from_env()
    with postgres.db.connection() as conn:
        outcome = train_static_embedder(conn, models.get_store(), run_id=context.run.run_id,
                                        cache_dir=settings.models_cache_dir)  # fmt: skip
    candidate = outcome.candidate
    evaluation = candidate.evaluation
    metadata: dict[str, Any] = {
        **_decision(outcome),
        "score": dg.MetadataValue.float(float(evaluation["score"])),
        "teacher_cosine": dg.MetadataValue.float(float(evaluation["teacher_cosine"])),
        "neighbour_overlap_top10": dg.MetadataValue.float(float(evaluation["neighbour_overlap_top10"])),
        "dedup_pair_auc": dg.MetadataValue.float(float(evaluation["dedup_pair_auc"])),
        "training": dg.MetadataValue.json(candidate.training),
    }
    yield from _report(context, STATIC_EMBEDDER_KEY, outcome, metadata)


model_assets = [labels_training_set, models_classifier, models_static_embedder]
