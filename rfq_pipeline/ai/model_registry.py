"""Versions of the local classifier: train one, evaluate it on the dev folds, promote it only if it beats the current
version on the same evaluation, and load the current one.

The first version is the one ``make install`` builds from the dev labels and ships beside the code (the *packaged*
version); it is registered, with its evaluation, the first time a version is trained. Later versions add the labels
people and Claude gave stored RFQs (:func:`rfq_pipeline.ai.corrections.training_set`); their fitted models live in
the ``models`` object store, their figures and the promotion decision, with its reason, in ``model_versions``.

Plain functions over a psycopg connection and an object store; the ``models/classifier`` asset calls them.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from rfq_pipeline.ai import classifier as local
from rfq_pipeline.ai.corrections import PeopleTrainingSet, training_set
from rfq_pipeline.ai.evaluation import model_evaluation
from rfq_pipeline.ai.training_data import labeled_examples
from rfq_pipeline.store.object_store import ObjectStore

CLASSIFIER = "classifier"
PACKAGED = "package:"  # artifact_key prefix of the version shipped beside the code
# A new version must beat the current score by more than float noise; a tie keeps the current version.
MIN_GAIN = 1e-6

SELECT_CURRENT = """
SELECT kind, version, artifact_key, artifact_sha256, evaluation_id, score, evaluation, training, decision, reason,
       promoted_at
FROM model_versions
WHERE kind = %(kind)s AND promoted_at IS NOT NULL
ORDER BY promoted_at DESC
LIMIT 1
"""

SELECT_VERSION = """
SELECT kind, version, artifact_key, artifact_sha256, evaluation_id, score, evaluation, training, decision, reason,
       promoted_at
FROM model_versions
WHERE kind = %(kind)s AND version = %(version)s
"""

SELECT_HISTORY = """
SELECT version, score, decision, reason, trained_at, promoted_at
FROM model_versions
WHERE kind = %(kind)s
ORDER BY trained_at DESC, version
LIMIT %(limit)s
"""

# Once per version: a re-run that trains the same version again records nothing new. The wall clock, not the
# transaction's start, orders promotions: two in one transaction must not tie.
INSERT_VERSION = """
INSERT INTO model_versions (kind, version, artifact_key, artifact_sha256, evaluation_id, score, evaluation, training,
                            decision, reason, run_id, promoted_at)
VALUES (%(kind)s, %(version)s, %(artifact_key)s, %(artifact_sha256)s, %(evaluation_id)s, %(score)s, %(evaluation)s,
        %(training)s, %(decision)s, %(reason)s, %(run_id)s, CASE WHEN %(promote)s THEN clock_timestamp() END)
ON CONFLICT (kind, version) DO NOTHING
RETURNING version
"""


@dataclass(frozen=True)
class ModelVersion:
    """One recorded version of a model and the decision taken on it."""

    kind: str
    version: str
    artifact_key: str
    artifact_sha256: str
    evaluation_id: str
    score: float
    evaluation: dict[str, Any] = field(repr=False)
    training: dict[str, Any] = field(repr=False)
    decision: str
    reason: str
    promoted_at: datetime | None = None

    @property
    def packaged(self) -> bool:
        """Whether this is the version shipped beside the code."""
        return self.artifact_key.startswith(PACKAGED)


def _row_to_version(row: dict[str, Any] | None) -> ModelVersion | None:
    return ModelVersion(**row) if row else None


def current_version(conn: psycopg.Connection, kind: str = CLASSIFIER) -> ModelVersion | None:
    """The version promoted last, or ``None`` before any was registered."""
    with conn.cursor(row_factory=dict_row) as cur:
        return _row_to_version(cur.execute(SELECT_CURRENT, {"kind": kind}).fetchone())


def get_version(conn: psycopg.Connection, version: str, kind: str = CLASSIFIER) -> ModelVersion | None:
    """A recorded version by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return _row_to_version(cur.execute(SELECT_VERSION, {"kind": kind, "version": version}).fetchone())


def history(conn: psycopg.Connection, kind: str = CLASSIFIER, limit: int = 20) -> list[dict[str, Any]]:
    """The latest recorded versions with their score and decision, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SELECT_HISTORY, {"kind": kind, "limit": limit}).fetchall()


def _record(conn: psycopg.Connection, version: ModelVersion, *, promote: bool, run_id: str | None) -> bool:
    params = {**version.__dict__, "evaluation": Jsonb(version.evaluation), "training": Jsonb(version.training),
              "promote": promote, "run_id": run_id}  # fmt: skip
    params.pop("promoted_at")
    return conn.execute(INSERT_VERSION, params).fetchone() is not None


def decide(candidate_score: float, current: ModelVersion | None, current_score: float | None) -> tuple[bool, str]:
    """Promote only a version that beats the current one on the same evaluation; say why either way."""
    if current is None or current_score is None:
        return True, "first version: nothing to compare with"
    if candidate_score > current_score + MIN_GAIN:
        return True, f"score {candidate_score:.4f} beats {current_score:.4f} of {current.version}"
    return False, f"score {candidate_score:.4f} does not beat {current_score:.4f} of {current.version}; kept it"


def _code_version(version: str) -> str:
    return version.rsplit("-", 1)[0]


def _packaged_key() -> str:
    return PACKAGED + local.model_path().name


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def register_packaged(
    conn: psycopg.Connection, *, run_id: str | None = None, embedder: str = "minilm-static"
) -> ModelVersion:
    """Record (once) the version shipped beside the code, evaluated on the dev folds with no extra labels, and make
    it current when no version of this code is: the first version, or the replacement of one trained by older code
    (whose pickled model this code cannot load)."""
    path = local.ensure_trained()
    trained: local.TrainedModel = pickle.loads(path.read_bytes())  # our own artifact, built by `make install`
    recorded = get_version(conn, trained.version)
    current = current_version(conn)
    usable = current is not None and _code_version(current.version) == local.CLASSIFIER_CODE_VERSION
    if recorded is not None and (usable or recorded.promoted_at is not None):
        return recorded
    evaluation = model_evaluation(embedder) if recorded is None else recorded.evaluation
    reason = (
        "first version: built by `make install` from the dev labels"
        if current is None
        else f"packaged with code {local.CLASSIFIER_CODE_VERSION}; {current.version} was trained by older code"
    )
    version = ModelVersion(
        kind=CLASSIFIER,
        version=trained.version,
        artifact_key=_packaged_key(),
        artifact_sha256=_sha256_file(path),
        evaluation_id=str(evaluation["evaluation_id"]),
        score=float(evaluation["score"]),  # type: ignore[arg-type]
        evaluation=evaluation,
        training={"dev_labels": len(labeled_examples()), "people": {}, "label_ids": []},
        decision="promoted",
        reason=reason,
    )
    if recorded is None:
        _record(conn, version, promote=not usable, run_id=run_id)
    elif not usable:
        conn.execute(
            "UPDATE model_versions SET promoted_at = clock_timestamp(), reason = %(reason)s WHERE kind = %(kind)s "
            "AND version = %(version)s",
            {"reason": reason, "kind": CLASSIFIER, "version": trained.version},
        )
    return get_version(conn, trained.version)  # type: ignore[return-value]


@dataclass
class TrainingOutcome:
    """What one training of the classifier did."""

    candidate: ModelVersion
    current_before: ModelVersion
    promoted: bool
    reason: str
    new_version: bool  # False: the candidate was already recorded (same code and training data), nothing changed
    people: PeopleTrainingSet
    current_score: float | None = None


def _current_score(conn: psycopg.Connection, current: ModelVersion, evaluation_id: str, embedder: str) -> float:
    """The current version's score on the evaluation ``evaluation_id``: its recorded one, or (when the dev labels or
    the protocol changed since) its training recipe evaluated again on the new folds."""
    if current.evaluation_id == evaluation_id:
        return current.score
    label_ids = current.training.get("label_ids") or []
    people = training_set(conn, label_ids=label_ids) if label_ids else None
    return float(model_evaluation(embedder, extra=people.examples if people else ())["score"])  # type: ignore[arg-type]


def train_classifier(
    conn: psycopg.Connection,
    store: ObjectStore,
    *,
    targets: Sequence[str],
    run_id: str | None = None,
    embedder: str = "minilm-static",
) -> TrainingOutcome:
    """Train a version on the dev labels plus people's and Claude's labels, evaluate it on the dev folds, and
    promote it only if it beats the current version; the decision and reason are recorded either way."""
    current = current_version(conn)
    if current is None or _code_version(current.version) != local.CLASSIFIER_CODE_VERSION:
        current = register_packaged(conn, run_id=run_id, embedder=embedder)
    people = training_set(conn, targets=targets)
    trained = local.train(list(labeled_examples()) + people.examples, embedder=embedder)
    recorded = get_version(conn, trained.version)
    if recorded is not None:
        why = "same code and training data as " + ("the current version" if recorded.version == current.version
                                                   else f"{recorded.version}, {recorded.decision}")  # fmt: skip
        return TrainingOutcome(recorded, current, False, why, False, people)
    evaluation = model_evaluation(embedder, extra=people.examples)
    evaluation_id = str(evaluation["evaluation_id"])
    score = float(evaluation["score"])  # type: ignore[arg-type]
    current_score = _current_score(conn, current, evaluation_id, embedder)
    promote, reason = decide(score, current, current_score)
    artifact = pickle.dumps(trained)
    key = f"classifier/{trained.version}.pkl"
    store.put(key, artifact)
    candidate = ModelVersion(
        kind=CLASSIFIER,
        version=trained.version,
        artifact_key=key,
        artifact_sha256=hashlib.sha256(artifact).hexdigest(),
        evaluation_id=evaluation_id,
        score=score,
        evaluation=evaluation,
        training={
            "dev_labels": len(labeled_examples()),
            "people": people.by_source,
            "skipped": people.skipped,
            "label_ids": people.label_ids,
        },
        decision="promoted" if promote else "kept_current",
        reason=reason,
    )
    _record(conn, candidate, promote=promote, run_id=run_id)
    return TrainingOutcome(candidate, current, promote, reason, True, people, current_score)


@cache
def _load_artifact(sha256: str, cache_path: Path) -> local.TrainedModel:
    return pickle.loads(cache_path.read_bytes())  # our own artifact, checked against its recorded digest


def current_classifier(
    conn: psycopg.Connection, store: ObjectStore, targets: Sequence[str], cache_dir: Path
) -> local.LocalClassifier:
    """The classifier of the current version: a trained one from the object store (kept in ``cache_dir`` by its
    digest), else the packaged one. A version trained by older code is not loaded: the packaged one stands in until
    ``models/classifier`` trains a version with this code."""
    current = current_version(conn)
    if current is None or current.packaged or _code_version(current.version) != local.CLASSIFIER_CODE_VERSION:
        return local.local_classifier(targets)
    cached = cache_dir / f"{current.artifact_sha256}.pkl"
    if not cached.exists():
        data = store.get(current.artifact_key)
        if hashlib.sha256(data).hexdigest() != current.artifact_sha256:
            raise RuntimeError(f"model artifact {current.artifact_key} does not match its recorded digest")
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)
    return local.LocalClassifier(_load_artifact(current.artifact_sha256, cached), targets)


__all__ = [
    "CLASSIFIER",
    "ModelVersion",
    "TrainingOutcome",
    "current_classifier",
    "current_version",
    "decide",
    "get_version",
    "history",
    "register_packaged",
    "train_classifier",
]
