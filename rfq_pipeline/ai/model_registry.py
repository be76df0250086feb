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
    people: PeopleTrainingSet | None = None  # the classifier's labels from people and Claude (None: the embedder)
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
        return TrainingOutcome(recorded, current, False, why, people)
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
    return TrainingOutcome(candidate, current, promote, reason, people, current_score)


def fetch_artifact(store: ObjectStore, version: ModelVersion, cache_dir: Path, suffix: str) -> Path:
    """A version's artifact as a local file in ``cache_dir``, named by its digest: fetched once from the object store
    and checked against the digest recorded at training (a replaced or truncated object is refused)."""
    cached = cache_dir / f"{version.artifact_sha256}{suffix}"
    if not cached.exists():
        data = store.get(version.artifact_key)
        if hashlib.sha256(data).hexdigest() != version.artifact_sha256:
            raise RuntimeError(f"model artifact {version.artifact_key} does not match its recorded digest")
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)  # atomic: a concurrent reader never sees half a file
    return cached


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
    cached = fetch_artifact(store, current, cache_dir, ".pkl")
    return local.LocalClassifier(_load_artifact(current.artifact_sha256, cached), targets)


# --- The static embedder -------------------------------------------------------------------------------------------
#
# The packaged table (`make install`) is distilled from all-MiniLM-L6-v2 on the project's own marketplace text. A new
# version is distilled from the same teacher on that text plus the RFQs the pipeline has stored (fair game; never a
# held-out Alibaba title, never a text the agreement figure is measured on). Its vectors are a different model: a
# promoted version gets its own name, its own partial HNSW index, and re-embeds through ``rfqs/embedded``. The
# classifier keeps reading the packaged table (its features were fitted on it).

STATIC_EMBEDDER = "static_embedder"
STATIC_CODE_VERSION = "static-distill-v1"  # bump when the recipe or its evaluation changes
STORED_TEXTS_LIMIT = 20_000  # the newest stored RFQs a version is distilled on (teacher time grows with them)

SELECT_STORED_TEXTS = """
SELECT title, description FROM rfqs ORDER BY COALESCE(posted_at, first_seen_at) DESC, id DESC LIMIT %(limit)s
"""


def _dedup_pairs() -> tuple[list[str], list[str]]:
    import json

    from rfq_pipeline.ai.embedding_store import rfq_embedding_text
    from rfq_pipeline.dedup.pair_model import LABELS_DIR

    texts, clusters = [], []
    with (LABELS_DIR / "records.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                texts.append(rfq_embedding_text(record["title"], record.get("description") or ""))
                clusters.append(str(record["gold_cluster"]))
    return texts, clusters


@cache
def _teacher_vectors(texts: tuple[str, ...]) -> Any:
    from rfq_pipeline.ai.embeddings import TorchMiniLM

    return TorchMiniLM().embed(list(texts))


def embedder_evaluation(embedder: Any) -> dict[str, Any]:
    """A static embedder's figures on text no version is distilled on: mean cosine to the teacher's vectors and the
    top-10 neighbour overlap on the held-out marketplace texts, and the ROC AUC of cosine similarity for telling the
    labeled dedup set's same-request pairs from every other pair (hard negatives included). ``score`` is the mean of
    the cosine and the AUC."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from rfq_pipeline.ai.training_data import distillation_split

    held_out = tuple(distillation_split()[1])
    teacher = _teacher_vectors(held_out)
    mine = embedder.embed(list(held_out))
    cosine = float(np.mean(np.sum(teacher * mine, axis=1)))
    k = 10
    near_teacher = np.argsort(-(teacher @ teacher.T), axis=1)[:, 1 : k + 1]
    near_mine = np.argsort(-(mine @ mine.T), axis=1)[:, 1 : k + 1]
    overlap = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(near_teacher, near_mine, strict=True)]))
    texts, clusters = _dedup_pairs()
    vectors = embedder.embed(texts)
    rows, cols = np.triu_indices(len(texts), 1)
    similarity = np.sum(vectors[rows] * vectors[cols], axis=1)
    same = np.array([clusters[i] == clusters[j] for i, j in zip(rows, cols, strict=True)])
    auc = float(roc_auc_score(same, similarity))
    digest = hashlib.sha256(STATIC_CODE_VERSION.encode())
    for text in (*held_out, *texts):
        digest.update(text.encode("utf-8") + b"\n")
    return {
        "evaluation_id": digest.hexdigest()[:12],
        "score": round((cosine + auc) / 2, 6),
        "teacher_cosine": round(cosine, 4),
        "neighbour_overlap_top10": round(overlap, 4),
        "dedup_pair_auc": round(auc, 4),
        "held_out_texts": len(held_out),
        "dedup_records": len(texts),
        "dedup_same_request_pairs": int(same.sum()),
    }


def _distillation_texts(conn: psycopg.Connection, limit: int) -> tuple[list[str], int]:
    """The packaged recipe's texts plus the newest stored RFQs' (minus held-out titles and held-out agreement texts);
    returns the texts and how many stored ones were added."""
    from rfq_pipeline.ai.embedding_store import rfq_embedding_text
    from rfq_pipeline.ai.training_data import distillation_split, held_out_title_keys, title_key

    fit, held_out = distillation_split()
    skip = set(fit) | set(held_out)
    held_titles = held_out_title_keys()
    stored = []
    for title, description in conn.execute(SELECT_STORED_TEXTS, {"limit": limit}).fetchall():
        if title_key(title or "") in held_titles:
            continue
        text = rfq_embedding_text(title or "", description or "")
        if text.strip() and text not in skip:
            skip.add(text)
            stored.append(text)
    return [*fit, *stored], len(stored)


def ensure_vector_index(conn: psycopg.Connection, model: str, dims: int) -> str:
    """The partial HNSW index of one embedding model (its own space: vectors of two models never mix), defined as
    every model's is (:func:`rfq_pipeline.ai.embedding_store.vector_index_statement`, which the bulk load rebuilds)."""
    from rfq_pipeline.ai.embedding_store import vector_index_name, vector_index_statement

    conn.execute(vector_index_statement(model, dims, if_not_exists=True))
    return vector_index_name(model)


def register_packaged_embedder(conn: psycopg.Connection, *, run_id: str | None = None) -> ModelVersion:
    """Record (once) the packaged static table with its evaluation, current when no version is."""
    from rfq_pipeline.ai.embeddings import STATIC_NAME, embedder_named, ensure_static_artifact

    recorded = get_version(conn, STATIC_NAME, STATIC_EMBEDDER)
    if recorded is not None:
        return recorded
    path = ensure_static_artifact()
    evaluation = embedder_evaluation(embedder_named("minilm-static"))
    version = ModelVersion(
        kind=STATIC_EMBEDDER, version=STATIC_NAME, artifact_key=PACKAGED + path.name,
        artifact_sha256=_sha256_file(path), evaluation_id=evaluation["evaluation_id"], score=evaluation["score"],
        evaluation=evaluation, training={"stored_rfq_texts": 0}, decision="promoted",
        reason="first version: distilled by `make install` from the project's marketplace text",
    )  # fmt: skip
    _record(conn, version, promote=current_version(conn, STATIC_EMBEDDER) is None, run_id=run_id)
    return get_version(conn, STATIC_NAME, STATIC_EMBEDDER)  # type: ignore[return-value]


def train_static_embedder(
    conn: psycopg.Connection,
    store: ObjectStore,
    *,
    run_id: str | None = None,
    cache_dir: Path,
    stored_limit: int = STORED_TEXTS_LIMIT,
    distill: Any = None,
) -> TrainingOutcome:
    """Distill a version on the packaged recipe's text plus the stored RFQs', evaluate it, and promote it only if it
    beats the current version; a promoted version gets its vector index before any process serves it.

    ``distill(path, texts)`` writes the table (default: :func:`rfq_pipeline.ai.embeddings.distill_static`).
    """
    import tempfile

    from rfq_pipeline.ai.embeddings import DIMS, STATIC_NAME, distill_static

    current = current_version(conn, STATIC_EMBEDDER) or register_packaged_embedder(conn, run_id=run_id)
    texts, stored = _distillation_texts(conn, stored_limit)
    digest = hashlib.sha256(STATIC_CODE_VERSION.encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\n")
    version = STATIC_NAME if not stored else f"{STATIC_NAME.rsplit('-v', 1)[0]}-{digest.hexdigest()[:10]}"
    recorded = get_version(conn, version, STATIC_EMBEDDER)
    if recorded is not None:
        why = "same recipe and texts as " + ("the current version" if recorded.version == current.version
                                             else f"{recorded.version}, {recorded.decision}")  # fmt: skip
        return TrainingOutcome(recorded, current, False, why)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "table.npz"
        (distill or (lambda p, t: distill_static(p, texts=t)))(path, texts)
        embedder = _static_embedder(path, version)
        evaluation = embedder_evaluation(embedder)
        data = path.read_bytes()
    current_score = current.score if current.evaluation_id == evaluation["evaluation_id"] else None
    if current_score is None:
        current_score = float(embedder_evaluation(current_embedder(conn, store, cache_dir))["score"])
    promote, reason = decide(float(evaluation["score"]), current, current_score)
    key = f"static_embedder/{version}.npz"
    store.put(key, data)
    candidate = ModelVersion(
        kind=STATIC_EMBEDDER, version=version, artifact_key=key, artifact_sha256=hashlib.sha256(data).hexdigest(),
        evaluation_id=evaluation["evaluation_id"], score=float(evaluation["score"]), evaluation=evaluation,
        training={"texts": len(texts), "stored_rfq_texts": stored}, decision="promoted" if promote else "kept_current",
        reason=reason,
    )  # fmt: skip
    if promote:
        ensure_vector_index(conn, version, DIMS)
    _record(conn, candidate, promote=promote, run_id=run_id)
    return TrainingOutcome(candidate, current, promote, reason, current_score=current_score)


def _static_embedder(path: Path, name: str) -> Any:
    from rfq_pipeline.ai.embeddings import DIMS, StaticEmbedder, minilm_teacher

    return StaticEmbedder(path, minilm_teacher().tokenizer_path, name, DIMS)


@cache
def _cached_static(path: Path, name: str) -> Any:
    return _static_embedder(path, name)


def current_embedder(
    conn: psycopg.Connection, store: ObjectStore, cache_dir: Path, setting: str = "minilm-static"
) -> Any:
    """The embedder of ``RFQ_EMBEDDER``: for the static one, its current version (a promoted table from the object
    store, kept in ``cache_dir`` by digest, or the packaged table)."""
    from rfq_pipeline.ai.embeddings import embedder_named

    current = current_version(conn, STATIC_EMBEDDER) if setting == "minilm-static" else None
    if current is None or current.packaged:
        return embedder_named(setting)
    return _cached_static(fetch_artifact(store, current, cache_dir, ".npz"), current.version)


__all__ = [
    "CLASSIFIER",
    "STATIC_EMBEDDER",
    "ModelVersion",
    "TrainingOutcome",
    "current_classifier",
    "current_embedder",
    "current_version",
    "decide",
    "embedder_evaluation",
    "ensure_vector_index",
    "fetch_artifact",
    "get_version",
    "register_packaged",
    "register_packaged_embedder",
    "train_classifier",
    "train_static_embedder",
]
