"""Fits and measures the pair model on the labeled cross-marketplace dev set (``dedup/labels``).

The set is small (130 records, 77 same-request pairs), so every figure reported is cross-validated: records are
split into folds by topic family (a hard negative stays in the fold of the cluster it was written against), the
model is fitted on the other folds' pairs, and the held-out fold is clustered in posting order exactly as the
pipeline clusters, with no knowledge of the labels. ``--write`` refits on every record and stores
``pair_model.json``; the operating point is the probability with the best cross-validated recall at precision
>= 0.98.

    python -m rfq_pipeline.dedup.pair_model            # print the cross-validated figures and the curve
    python -m rfq_pipeline.dedup.pair_model --write    # refit and store pair_model.json
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from rfq_pipeline.dedup.attributes import ATTRIBUTES_VERSION, RfqAttributes, extract
from rfq_pipeline.dedup.pairs import (
    FEATURES,
    MODEL_PATH,
    Member,
    PairModel,
    clusters_compatible,
    compare,
    default_model,
    judge_clusters,
)
from rfq_pipeline.settings import Settings

LABELS_DIR = Path(__file__).resolve().parent / "labels"
FOLDS = 5
TARGET_PRECISION = 0.98
CURVE_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class LabeledRfq:
    """One dev record, its attributes and its embedding."""

    record: dict[str, Any]
    gold: str
    family: str
    role: str
    neg_type: str
    attributes: RfqAttributes
    vector: np.ndarray


def attributes_of(record: dict[str, Any]) -> RfqAttributes:
    """The attributes of an input record shaped like the dedup CLI's lines."""
    return extract(
        title=str(record.get("title") or ""),
        description=str(record.get("description") or ""),
        quantity=str(record.get("quantity") or ""),
        country=str(record.get("country") or ""),
        buyer=str(record.get("buyer") or ""),
    )


def load_dev_set(labels_dir: Path = LABELS_DIR) -> list[LabeledRfq]:
    """The dev records with their gold clusters, families and roles, in posting order."""
    from rfq_pipeline.ai.embedding_store import rfq_embedding_text
    from rfq_pipeline.ai.embeddings import default_embedder

    with (labels_dir / "annotations.csv").open(encoding="utf-8", newline="") as handle:
        notes = {row["id"]: row for row in csv.DictReader(handle)}
    records = [json.loads(line) for line in (labels_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    records.sort(key=lambda r: (r.get("posted_at") or "", r["id"]))
    vectors = default_embedder().embed([rfq_embedding_text(r["title"], r["description"]) for r in records])
    return [
        LabeledRfq(
            record=r,
            gold=r["gold_cluster"],
            family=notes[r["id"]]["group"] or r["gold_cluster"],
            role=notes[r["id"]]["role"],
            neg_type=notes[r["id"]]["neg_type"],
            attributes=attributes_of(r),
            vector=np.asarray(vectors[i], dtype=np.float32),
        )
        for i, r in enumerate(records)
    ]


def cluster_in_order(items: Sequence[LabeledRfq], model: PairModel) -> list[int]:
    """Cluster ``items`` (already in posting order) the way the store does; returns a cluster id per item.

    Every earlier record is a candidate here (the store narrows candidates by blocking keys and ANN first).
    """
    assigned: list[int] = []
    members: dict[int, list[Member]] = defaultdict(list)
    for index, item in enumerate(items):
        candidates = {
            cluster_id: [
                Member(m.rfq_id, m.attributes, float(np.dot(item.vector, items[m.rfq_id].vector)))
                for m in cluster_members
            ]
            for cluster_id, cluster_members in members.items()
        }
        verdicts = [v for v in judge_clusters(item.attributes, candidates, model) if v.matched]
        if not verdicts:
            cluster_id = index
        else:
            chosen = [verdicts[0].cluster_id]
            for verdict in verdicts[1:]:
                if all(clusters_compatible(members[c], members[verdict.cluster_id]) for c in chosen):
                    chosen.append(verdict.cluster_id)
            cluster_id = min(chosen)
            for absorbed in chosen:
                if absorbed != cluster_id:
                    members[cluster_id] += members.pop(absorbed)
                    assigned = [cluster_id if c == absorbed else c for c in assigned]
        members[cluster_id].append(Member(index, item.attributes))
        assigned.append(cluster_id)
    return assigned


@dataclass
class PairCounts:
    """Pairwise confusion counts, with the missed and false pairs for the error report."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_pairs: list[tuple[LabeledRfq, LabeledRfq]] = field(default_factory=list)
    missed_pairs: list[tuple[LabeledRfq, LabeledRfq]] = field(default_factory=list)

    def add(self, other: PairCounts) -> None:
        """Accumulate another fold's counts."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.false_pairs += other.false_pairs
        self.missed_pairs += other.missed_pairs

    @property
    def precision(self) -> float:
        """Share of predicted same-request pairs that are same-request pairs (1.0 when none predicted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of same-request pairs predicted."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score(items: Sequence[LabeledRfq], predicted: Sequence[int]) -> PairCounts:
    """Pairwise counts of a clustering against the gold clusters."""
    counts = PairCounts()
    for i, j in combinations(range(len(items)), 2):
        same_gold = items[i].gold == items[j].gold
        same_predicted = predicted[i] == predicted[j]
        if same_gold and same_predicted:
            counts.tp += 1
        elif same_predicted:
            counts.fp += 1
            counts.false_pairs.append((items[i], items[j]))
        elif same_gold:
            counts.fn += 1
            counts.missed_pairs.append((items[i], items[j]))
    return counts


def training_pairs(items: Sequence[LabeledRfq]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every pair no veto decides (the pairs the model has to judge)."""
    rows, labels = [], []
    for a, b in combinations(items, 2):
        evidence = compare(a.attributes, b.attributes, float(np.dot(a.vector, b.vector)))
        if evidence.vetoes:
            continue
        rows.append(evidence.features())
        labels.append(int(a.gold == b.gold))
    return np.asarray(rows, dtype=np.float64), np.asarray(labels)


def fit(items: Sequence[LabeledRfq], min_probability: float = 0.5) -> PairModel:
    """A logistic model over the non-vetoed pairs of ``items``."""
    from sklearn.linear_model import LogisticRegression

    features, labels = training_pairs(items)
    classifier = LogisticRegression(C=1.0, max_iter=1000).fit(features, labels)
    return PairModel(
        weights=tuple(float(w) for w in classifier.coef_[0]),
        intercept=float(classifier.intercept_[0]),
        min_probability=min_probability,
        version=f"pair-logistic-{ATTRIBUTES_VERSION}",
        fitted_on={"records": len(items), "pairs": len(labels), "positive_pairs": int(labels.sum())},
    )


def folds_by_family(items: Sequence[LabeledRfq], k: int = FOLDS) -> list[list[int]]:
    """Item indices split into ``k`` folds, whole families together, balanced by size."""
    families: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        families[item.family].append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    for family in sorted(families, key=lambda f: (-len(families[f]), f)):
        min(folds, key=len).extend(families[family])
    return [sorted(fold) for fold in folds]


def cross_validate(
    items: Sequence[LabeledRfq], thresholds: Sequence[float], fitter: Callable[..., PairModel] = fit
) -> dict[float, PairCounts]:
    """Pairwise counts per threshold, each fold clustered with a model fitted on the other folds."""
    results = {t: PairCounts() for t in thresholds}
    for fold in folds_by_family(items):
        held_out = set(fold)
        model = fitter([item for i, item in enumerate(items) if i not in held_out])
        test = [items[i] for i in fold]
        for threshold in thresholds:
            results[threshold].add(score(test, cluster_in_order(test, model.with_threshold(threshold))))
    return results


def error_categories(counts: PairCounts) -> Counter[str]:
    """What the errors are: missed pairs by source mix and language, false pairs by hard-negative type."""
    categories: Counter[str] = Counter()
    for a, b in counts.missed_pairs:
        kind = "e-mail" if "email" in (a.record["source"], b.record["source"]) else "cross-site"
        language = "" if a.attributes.english and b.attributes.english else ", another language"
        categories[f"missed: {kind}{language}"] += 1
    for a, b in counts.false_pairs:
        negative = a.neg_type or b.neg_type or "unrelated"
        categories[f"false: {negative}"] += 1
    return categories


def operating_point(results: dict[float, PairCounts], target: float = TARGET_PRECISION) -> float:
    """The middle of the thresholds with the best recall at or above the target precision (else the most precise).

    The middle, not the edge, of that plateau: unseen data sits a little off the dev set's curve either way.
    """
    meeting = [t for t, c in results.items() if c.precision >= target]
    if meeting:
        best = max(results[t].recall for t in meeting)
        plateau = sorted(t for t in meeting if results[t].recall == best)
        return plateau[len(plateau) // 2]
    return max(results, key=lambda t: (results[t].precision, t))


def _categories_text(counts: PairCounts, top: int = 3) -> str:
    worst = error_categories(counts).most_common(top)
    return ", ".join(f"{name} x{n}" for name, n in worst) or "no errors"


def store_run_counts(items: Sequence[LabeledRfq], settings: Settings | None = None) -> PairCounts:
    """The dev records clustered by ``rfq-pipeline dedup`` (a temporary store, the shipped model), scored."""
    from rfq_pipeline.dedup.cli import dedup_records

    run = dedup_records([item.record for item in items], settings)
    clusters = {row["id"]: row["cluster_id"] for row in run.rows}
    return score(items, [clusters[item.record["id"]] for item in items])


def dev_set_report(settings: Settings | None = None, thresholds: Sequence[float] = CURVE_THRESHOLDS) -> str:
    """The cross-validated precision/recall curve on the dev set, the store's result, the worst error categories."""
    items = load_dev_set()
    shipped = default_model()
    lines = [
        f"dedup on the labeled cross-marketplace dev set ({len(items)} records, "
        f"{sum(1 for a, b in combinations(items, 2) if a.gold == b.gold)} same-request pairs), "
        f"{FOLDS}-fold cross-validation by topic family; RFQ_DEDUP_MIN_PROBABILITY trades precision for recall:"
    ]
    for threshold, counts in cross_validate(items, thresholds).items():
        marker = "  <- shipped" if threshold == shipped.min_probability else ""
        lines.append(
            f"  p>={threshold:.2f}  precision {counts.precision:.3f}  recall {counts.recall:.3f}  "
            f"(fp={counts.fp} fn={counts.fn}; {_categories_text(counts)}){marker}"
        )
    store = store_run_counts(items, settings)
    lines.append(
        f"  rfq-pipeline dedup on the same records (model fitted on all of them, p>={shipped.min_probability}): "
        f"precision {store.precision:.3f}  recall {store.recall:.3f}  ({_categories_text(store)})"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the cross-validated curve; with ``--write`` refit on all records and store the model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"refit on all records and write {MODEL_PATH.name}")
    args = parser.parse_args(argv)
    items = load_dev_set()
    results = cross_validate(items, CURVE_THRESHOLDS)
    for threshold, counts in results.items():
        print(
            f"p>={threshold:.2f}  precision {counts.precision:.3f}  recall {counts.recall:.3f}  "
            f"tp={counts.tp} fp={counts.fp} fn={counts.fn}"
        )
    chosen = operating_point(results)
    print(f"operating point p>={chosen}: {dict(error_categories(results[chosen]))}")
    if args.write:
        model = fit(items, chosen)
        cv = results[chosen]
        model.fitted_on.update(
            {"cv_folds": FOLDS, "cv_precision": round(cv.precision, 4), "cv_recall": round(cv.recall, 4)}
        )
        MODEL_PATH.write_text(json.dumps(model.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH.name}: {dict(zip(FEATURES, model.weights, strict=True))}")


if __name__ == "__main__":
    main()
