"""``labels/training_set`` and ``models/classifier`` materialized on the real database: the retraining rule, a
version trained on people's labels and evaluated on the dev folds, promoted only when it beats the current one, and
the classifier of ``rfqs/classified`` following the promoted version."""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from rfq_pipeline.ai import model_registry
from rfq_pipeline.ai.corrections import record_label
from rfq_pipeline.ai.evaluation import model_evaluation
from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.assets.models import CLASSIFIER_MODEL_KEY, TRAINING_SET_KEY, model_assets
from rfq_pipeline.db import repository
from rfq_pipeline.definitions import resources
from rfq_pipeline.settings import Settings
from rfq_pipeline.store.object_store import object_store_for

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, content_sha256, posted_at)
VALUES ('alibaba_rfq', %s, '', %s, '', 'x', now()) RETURNING id
"""

VERSIONS = "SELECT version, decision, reason, promoted_at IS NOT NULL, training FROM model_versions ORDER BY trained_at"


@pytest.fixture()
def env(pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Two folds instead of five: the same protocols and code, in a third of the trainings.
    monkeypatch.setattr(model_registry, "model_evaluation", functools.partial(model_evaluation, folds=2))
    monkeypatch.setenv("RFQ_RETRAIN_AFTER_LABELS", "2")
    with psycopg.connect(pipeline_env.database_url) as conn:
        repository.upsert_source(conn, name="alibaba_rfq", kind="marketplace", base_url="https://x", cadence="1h",
                                 enabled=True)  # fmt: skip
    return Settings.from_env()


def _events(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> tuple[list, list]:
    materialized = [e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key]
    observed = [e.asset_observation_data.asset_observation for e in result.get_asset_observation_events()
                if e.asset_key == key]  # fmt: skip
    return materialized, observed


def _label_two(settings: Settings) -> None:
    with psycopg.connect(settings.database_url) as conn:
        for n, (title, industry) in enumerate(
            [
                ("Matte lipstick private label 3000 pcs", "beauty_personal_care"),
                ("Hydraulic excavator bucket teeth", "machinery_industrial"),
            ]
        ):
            rfq_id = conn.execute(INSERT_RFQ, (f"m{n}", title)).fetchone()[0]
            record_label(conn, rfq_id, actor="rep@desk.example", industry=industry)


def test_retraining_waits_for_labels_then_records_the_decision(env: Settings) -> None:
    with dg.instance_for_test() as instance:
        # Each asset in its own run, as the automation sensor launches them.
        def run(key: dg.AssetKey) -> dg.ExecuteInProcessResult:
            result = dg.materialize(model_assets, selection=[key], resources=resources, instance=instance)
            assert result.success
            return result

        materialized, observed = _events(run(TRAINING_SET_KEY), TRAINING_SET_KEY)
        assert materialized == [] and observed[0].metadata["labels_new"].value == 0  # not enough labels: no retrain
        [model], _ = _events(run(CLASSIFIER_MODEL_KEY), CLASSIFIER_MODEL_KEY)  # the first one shows the current version
        meta = {k: v.value for k, v in model.metadata.items()}
        assert meta["reason"] == "same code and training data as the current version"
        assert "| beauty_personal_care |" in meta["confusion_matrix"]
        assert "beauty_personal_care" in meta["per_industry_f1"]
        assert {"cv", "cross_site", "cross_site_back"} <= {row.split(" | ")[0].strip("| ") for row in
                                                           meta["evaluation"].splitlines()[2:]}  # fmt: skip
        assert 0.5 < meta["cv_industry_accuracy"] < 1 and 0.5 < meta["cv_relevance_f1"] < 1
        with psycopg.connect(env.database_url) as conn:
            [(packaged, decision, reason, promoted, _)] = conn.execute(VERSIONS).fetchall()
        assert (decision, promoted) == ("promoted", True) and reason.startswith("first version")

        _label_two(env)
        [training], _ = _events(run(TRAINING_SET_KEY), TRAINING_SET_KEY)
        assert training.metadata["labels_new"].value == 2 and training.metadata["human_labels"].value == 2
        materialized, observed = _events(run(CLASSIFIER_MODEL_KEY), CLASSIFIER_MODEL_KEY)
        with psycopg.connect(env.database_url) as conn:
            rows = conn.execute(VERSIONS).fetchall()
        assert len(rows) == 2
        version, decision, reason, promoted, trained_on = rows[1]
        assert version != packaged and trained_on["people"] == {"human": 2} and len(trained_on["label_ids"]) == 2
        assert decision in ("promoted", "kept_current") and promoted == (decision == "promoted")
        assert ("does not beat" not in reason) == promoted and "beat" in reason
        assert len(materialized + observed) == 1
        assert (materialized + observed)[0].metadata["version"].value == version
        assert len(materialized) == (1 if promoted else 0)  # rfqs/classified follows only a promotion

        # No new labels: the rule does not fire, and a retrain by hand finds the version already recorded.
        assert _events(run(TRAINING_SET_KEY), TRAINING_SET_KEY)[0] == []
        _, [again] = _events(run(CLASSIFIER_MODEL_KEY), CLASSIFIER_MODEL_KEY)
        assert again.metadata["reason"].value.startswith("same code and training data as")
        with psycopg.connect(env.database_url) as conn:
            assert len(conn.execute(VERSIONS).fetchall()) == 2


def test_a_better_version_is_promoted_stored_and_served(env: Settings, tmp_path: Path) -> None:
    store = object_store_for("models", env)
    with psycopg.connect(env.database_url) as conn:
        packaged = model_registry.register_packaged(conn)
        assert model_registry.current_classifier(conn, store, env.target_industries, tmp_path).model_version == (
            packaged.version
        )
        # A current version that any new one beats: the people's labels make a new version, which is promoted.
        conn.execute("UPDATE model_versions SET score = 0.0")
        _label_two(env)
        outcome = model_registry.train_classifier(conn, store, targets=env.target_industries)
        assert outcome.promoted and outcome.reason.startswith("score ") and "beats 0.0000" in outcome.reason
        assert store.exists(outcome.candidate.artifact_key)
        current = model_registry.current_version(conn)
        assert current is not None and current.version == outcome.candidate.version
        served = model_registry.current_classifier(conn, store, env.target_industries, tmp_path)
        assert served.model_version == outcome.candidate.version
        assert (tmp_path / f"{current.artifact_sha256}.pkl").exists()
        [label] = served.classify([RfqText("x", "Matte lipstick 3000 pcs")])
        assert label.industry == "beauty_personal_care"


def test_promotion_rule() -> None:
    assert model_registry.decide(0.8, None, None) == (True, "first version: nothing to compare with")
    current = model_registry.ModelVersion("classifier", "v1", "k", "s", "e", 0.8, {}, {}, "promoted", "first")
    assert model_registry.decide(0.81, current, 0.8)[0] is True
    assert model_registry.decide(0.8, current, 0.8) == (False, "score 0.8000 does not beat 0.8000 of v1; kept it")
    assert model_registry.decide(0.79, current, 0.8)[0] is False


def test_a_static_embedder_version_distilled_on_stored_rfqs_is_promoted_indexed_and_served(
    env: Settings, tmp_path: Path
) -> None:
    import numpy as np

    from rfq_pipeline.assets.models import STATIC_EMBEDDER_KEY

    with psycopg.connect(env.database_url) as conn:
        packaged = model_registry.register_packaged_embedder(conn)
        assert packaged.promoted_at is not None and 0.5 < packaged.evaluation["dedup_pair_auc"] <= 1
        conn.execute("UPDATE model_versions SET score = 0.0")  # any distilled version beats it
        for n, title in enumerate(["Rosemary hair oil 60ml private label", "Vitamin C face serum 30ml OEM"]):
            conn.execute(INSERT_RFQ, (f"e{n}", title))
    with dg.instance_for_test() as instance:
        result = dg.materialize(model_assets, selection=[STATIC_EMBEDDER_KEY], resources=resources, instance=instance)
        [event] = _events(result, STATIC_EMBEDDER_KEY)[0]
        meta = {k: v.value for k, v in event.metadata.items()}
        assert meta["decision"] == "promoted" and meta["training"]["stored_rfq_texts"] == 2
        version = meta["version"]
        assert version != packaged.version and version.startswith("all-MiniLM-L6-v2-static-")
        with psycopg.connect(env.database_url) as conn:
            index = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'rfq_embeddings' AND indexdef LIKE %s",
                (f"%{version}%",),
            ).fetchone()
            assert index is not None and "hnsw" in index[0]
            served = model_registry.current_embedder(conn, object_store_for("models", env), tmp_path)
        assert served.name == version
        vectors = served.embed(["argan oil shampoo 500ml", "argan oil hair shampoo", "steel pipe 6 inch"])
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
        again = dg.materialize(model_assets, selection=[STATIC_EMBEDDER_KEY], resources=resources, instance=instance)
        _, [observed] = _events(again, STATIC_EMBEDDER_KEY)
        assert observed.metadata["reason"].value == "same recipe and texts as the current version"
