"""Evaluation of the local classifier on labeled data it was not trained on.

Three protocols on the hand-labeled dev rows (never the held-out Alibaba rows):

- ``cv``: 5-fold cross-validation over the labeled Alibaba rows (the marketplace the held-out set comes from); each
  fold's model is trained on the other four folds plus every go4worldbusiness row.
- ``cross_site``: trained on go4worldbusiness alone, tested on every labeled Alibaba row (a new marketplace).
- ``cross_site_back``: trained on the Alibaba rows alone, tested on every go4worldbusiness row (the other way).

Metrics on all rows and on the high-confidence rows: beauty-relevance precision/recall/F1 and industry accuracy,
each with a 95% bootstrap interval over the rows (a figure on 487 rows moves by several points with the sample), and
the most confident errors: the rows the model was surest about and got wrong, which are what a person would see
first and trust most.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rfq_pipeline.ai.classifier import LocalClassifier, train
from rfq_pipeline.ai.labels import Labels, label_confidence
from rfq_pipeline.ai.training_data import LabeledExample, labeled_examples


@dataclass(frozen=True)
class Metrics:
    """Scores of one protocol on one subset of rows."""

    rows: int
    industry_accuracy: float
    relevance_precision: float
    relevance_recall: float
    relevance_f1: float

    def render(self) -> str:
        """One line of the report."""
        return (
            f"rows={self.rows:4d}  industry_acc={self.industry_accuracy:.3f}  "
            f"relevance P={self.relevance_precision:.3f} R={self.relevance_recall:.3f} F1={self.relevance_f1:.3f}"
        )


def score(examples: Sequence[LabeledExample], predicted: Sequence[Labels]) -> Metrics:
    """Compare predictions with their examples' labels."""
    truth_industry = np.array([e.industry for e in examples])
    pred_industry = np.array([p.industry for p in predicted])
    truth = np.array([e.relevant for e in examples], dtype=bool)
    pred = np.array([p.relevant for p in predicted], dtype=bool)
    tp = float((truth & pred).sum())
    precision = tp / pred.sum() if pred.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float((truth_industry == pred_industry).mean()) if len(examples) else 0.0
    return Metrics(len(examples), accuracy, precision, recall, f1)


def _by_confidence(examples: list[LabeledExample], predicted: list[Labels]) -> dict[str, Metrics]:
    high = [i for i, e in enumerate(examples) if e.confidence == "high"]
    return {
        "all": score(examples, predicted),
        "high_confidence": score([examples[i] for i in high], [predicted[i] for i in high]),
    }


@dataclass(frozen=True)
class Protocol:
    """One protocol's test rows and what the model trained without them predicted."""

    name: str
    examples: list[LabeledExample]
    predicted: list[Labels] = field(repr=False)


def run_protocols(
    embedder: str = "minilm-static", folds: int = 5, *, extra: Sequence[LabeledExample] = ()
) -> list[Protocol]:
    """Train and predict for every protocol (see the module docstring).

    ``extra`` (labels people or Claude gave stored RFQs) joins the training rows of every cross-validation fold, so a
    model version trained with them is scored on the same held-out folds as one trained without.
    """
    from sklearn.model_selection import KFold

    examples = list(labeled_examples())
    alibaba = [e for e in examples if e.dataset == "alibaba_uae_dev"]
    others = [e for e in examples if e.dataset != "alibaba_uae_dev"]
    ordered: list[LabeledExample] = []
    predicted: list[Labels] = []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=0).split(np.arange(len(alibaba))):
        model = LocalClassifier(train([alibaba[i] for i in train_idx] + others + list(extra), embedder=embedder))
        test = [alibaba[i] for i in test_idx]
        ordered += test
        predicted += model.classify([e.item for e in test])
    cross = LocalClassifier(train(others, embedder=embedder))
    back = LocalClassifier(train(alibaba, embedder=embedder))
    return [
        Protocol("cv", ordered, predicted),
        Protocol("cross_site", alibaba, cross.classify([e.item for e in alibaba])),
        Protocol("cross_site_back", others, back.classify([e.item for e in others])),
    ]


def evaluate(embedder: str = "minilm-static", folds: int = 5) -> dict[str, dict[str, Metrics]]:
    """Run the protocols; returns ``{protocol: {"all" | "high_confidence": Metrics}}``."""
    return {p.name: _by_confidence(p.examples, p.predicted) for p in run_protocols(embedder, folds)}


@dataclass(frozen=True)
class Interval:
    """A 95% bootstrap interval."""

    low: float
    high: float

    def render(self) -> str:
        """``[low, high]`` with three decimals."""
        return f"[{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    examples: Sequence[LabeledExample], predicted: Sequence[Labels], *, resamples: int = 2000, seed: int = 0
) -> dict[str, Interval]:
    """95% percentile intervals of industry accuracy and relevance P/R/F1, resampling the rows with replacement."""
    n = len(examples)
    if n == 0:
        return {}
    correct = np.array([e.industry == p.industry for e, p in zip(examples, predicted, strict=True)], dtype=float)
    truth = np.array([e.relevant for e in examples], dtype=float)
    pred = np.array([p.relevant for p in predicted], dtype=float)
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    tp = (truth * pred)[draws].sum(axis=1)
    predicted_pos, actual_pos = pred[draws].sum(axis=1), truth[draws].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_pos > 0, tp / predicted_pos, 0.0)
        recall = np.where(actual_pos > 0, tp / actual_pos, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    figures = {"industry_accuracy": correct[draws].mean(axis=1), "relevance_precision": precision,
               "relevance_recall": recall, "relevance_f1": f1}  # fmt: skip
    return {name: Interval(*np.percentile(values, [2.5, 97.5]).tolist()) for name, values in figures.items()}


@dataclass(frozen=True)
class ConfidentError:
    """A row the model got wrong, with how sure it was."""

    confidence: float
    kind: str  # "industry" | "relevance"
    example: LabeledExample
    predicted: Labels

    def render(self) -> str:
        """One line: how sure, what it said, what the label says, the title."""
        if self.kind == "industry":
            said, truth = str(self.predicted.industry), str(self.example.industry)
        else:
            said = "relevant" if self.predicted.relevant else "not relevant"
            truth = "relevant" if self.example.relevant else "not relevant"
        title = " ".join(self.example.item.title.split())[:70]
        return f"{self.confidence:.2f}  {self.kind:<9} said {said!r}, label {truth!r}: {title!r}"


def confident_errors(
    examples: Sequence[LabeledExample], predicted: Sequence[Labels], *, limit: int = 20
) -> list[ConfidentError]:
    """The ``limit`` wrong calls the model was surest of: an industry by its probability, a relevance call by the
    probability of the side it chose."""
    errors = []
    for example, labels in zip(examples, predicted, strict=True):
        details = labels.details or {}
        if labels.industry != example.industry:
            errors.append(ConfidentError(float(details.get("confidence", 0.0)), "industry", example, labels))
        if labels.relevant != example.relevant:
            mass = float(details.get("target_mass", 0.5))
            sure = float(details.get("relevance_confidence", max(mass, 1 - mass)))
            errors.append(ConfidentError(sure, "relevance", example, labels))
    return sorted(errors, key=lambda e: (-e.confidence, e.example.item.id, e.kind))[:limit]


def per_industry_f1(examples: Sequence[LabeledExample], predicted: Sequence[Labels]) -> dict[str, tuple[int, float]]:
    """Each labeled industry's (rows, F1), most rows first."""
    truth = [e.industry for e in examples]
    said = [str(p.industry) for p in predicted]
    scores = {}
    for industry in sorted(set(truth), key=lambda name: (-truth.count(name), name)):
        tp = sum(t == s == industry for t, s in zip(truth, said, strict=True))
        predicted_n, actual_n = said.count(industry), truth.count(industry)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / actual_n if actual_n else 0.0
        scores[industry] = (actual_n, 2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return scores


@dataclass(frozen=True)
class Abstention:
    """What abstaining below a confidence threshold would do: how many rows keep a label, and how right they are on
    each side of the threshold."""

    threshold: float
    coverage: float  # share of rows at or above the threshold
    accuracy_above: float  # industry accuracy of those rows
    accuracy_below: float  # industry accuracy of the rows that would be left to a person or Claude
    relevance_f1_above: float


def abstention_curve(
    examples: Sequence[LabeledExample],
    predicted: Sequence[Labels],
    thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
) -> list[Abstention]:
    """Coverage and accuracy on each side of each threshold of :func:`rfq_pipeline.ai.labels.label_confidence`."""
    # The same confidence that marks a stored label uncertain: the lower of the industry and relevance ones.
    confidence = [label_confidence(p) or 0.0 for p in predicted]
    curve = []
    for threshold in thresholds:
        above = [i for i, c in enumerate(confidence) if c >= threshold]
        below = [i for i, c in enumerate(confidence) if c < threshold]
        kept = score([examples[i] for i in above], [predicted[i] for i in above])
        left = score([examples[i] for i in below], [predicted[i] for i in below])
        coverage = len(above) / len(examples) if examples else 0.0
        curve.append(Abstention(threshold, coverage, kept.industry_accuracy, left.industry_accuracy, kept.relevance_f1))
    return curve


def render(results: dict[str, dict[str, Metrics]], embedder: str) -> str:
    """The metrics alone, one line per protocol and subset."""
    lines = [f"local classifier evaluation (embedder {embedder}; targets: relevance F1 >= 0.90, industry acc >= 0.80)"]
    for protocol, subsets in results.items():
        for subset, metrics in subsets.items():
            lines.append(f"{protocol:<15} {subset:<16} {metrics.render()}")
    return "\n".join(lines)


def full_report(embedder: str = "minilm-static", *, errors: int = 20) -> str:
    """What ``rfq-pipeline evaluate`` prints: each protocol's figures with 95% bootstrap intervals, then the most
    confident errors of the cross-validation."""
    protocols = run_protocols(embedder)
    lines = [f"local classifier evaluation (embedder {embedder}; targets: relevance F1 >= 0.90, industry acc >= 0.80)"]
    for protocol in protocols:
        for subset, metrics in _by_confidence(protocol.examples, protocol.predicted).items():
            rows = [i for i, e in enumerate(protocol.examples) if subset == "all" or e.confidence == "high"]
            ci = bootstrap([protocol.examples[i] for i in rows], [protocol.predicted[i] for i in rows])
            lines.append(f"{protocol.name:<15} {subset:<16} {metrics.render()}")
            if ci:
                lines.append(
                    f"{'':<15} {'95% interval':<16} industry_acc {ci['industry_accuracy'].render()}  relevance "
                    f"P {ci['relevance_precision'].render()} R {ci['relevance_recall'].render()} "
                    f"F1 {ci['relevance_f1'].render()}"
                )
    cv = protocols[0]
    f1s = per_industry_f1(cv.examples, cv.predicted)
    lines.append("per-industry F1 of the cross-validation (rows): " + ", ".join(
        f"{name} {f1:.2f} ({rows})" for name, (rows, f1) in f1s.items()))  # fmt: skip
    lines.append("abstaining below a confidence threshold (cross-validation; the rows below go to a person or Claude):")
    for point in abstention_curve(cv.examples, cv.predicted):
        lines.append(
            f"  >= {point.threshold:.1f}: keeps {point.coverage:.0%} of rows, industry acc {point.accuracy_above:.3f} "
            f"(below: {point.accuracy_below:.3f}), relevance F1 {point.relevance_f1_above:.3f}"
        )
    lines.append(f"the {errors} most confident errors of the cross-validation (confidence, kind, prediction, label):")
    lines += [f"  {error.render()}" for error in confident_errors(cv.examples, cv.predicted, limit=errors)]
    return "\n".join(lines)


# Bump when the protocols, their folds or the score change: figures under another id are not compared.
EVALUATION_VERSION = "dev-folds-v1"


def evaluation_id(folds: int = 5) -> str:
    """Names the evaluation a model version's score comes from: the dev labels, the folds and the protocol code."""
    import hashlib

    digest = hashlib.sha256(f"{EVALUATION_VERSION}|{folds}".encode())
    for example in labeled_examples():
        digest.update(f"{example.dataset}|{example.item.id}|{example.industry}|{example.relevant}\n".encode())
    return digest.hexdigest()[:12]


def confusion_matrix(examples: Sequence[LabeledExample], predicted: Sequence[Labels]) -> dict[str, dict[str, int]]:
    """``{labeled industry: {predicted industry: rows}}`` over the industries that occur."""
    matrix: dict[str, dict[str, int]] = {}
    for example, labels in zip(examples, predicted, strict=True):
        row = matrix.setdefault(example.industry, {})
        row[labels.industry] = row.get(labels.industry, 0) + 1
    return matrix


def model_evaluation(
    embedder: str = "minilm-static", *, extra: Sequence[LabeledExample] = (), folds: int = 5
) -> dict[str, object]:
    """Everything a model version records of its evaluation, JSON-ready: each protocol's figures (all rows and the
    high-confidence ones) with 95% intervals, the cross-validation's confusion matrix, per-industry F1 and abstention
    curve, and ``score``, the figure promotion compares (mean of the cross-validated industry accuracy and
    relevance F1: the two numbers the classifier is held to)."""
    protocols = run_protocols(embedder, folds, extra=extra)
    figures: dict[str, object] = {}
    for protocol in protocols:
        subsets = _by_confidence(protocol.examples, protocol.predicted)
        intervals = bootstrap(protocol.examples, protocol.predicted, resamples=1000)
        figures[protocol.name] = {
            **{name: metrics.__dict__ for name, metrics in subsets.items()},
            "interval_95": {name: [ci.low, ci.high] for name, ci in intervals.items()},
        }
    cv = protocols[0]
    metrics = _by_confidence(cv.examples, cv.predicted)["all"]
    f1s = per_industry_f1(cv.examples, cv.predicted)
    result = {
        "evaluation_id": evaluation_id(folds),
        "score": round((metrics.industry_accuracy + metrics.relevance_f1) / 2, 6),
        "protocols": figures,
        "confusion_matrix": confusion_matrix(cv.examples, cv.predicted),
        "per_industry_f1": {name: {"rows": rows, "f1": round(f1, 4)} for name, (rows, f1) in f1s.items()},
        "abstention": [point.__dict__ for point in abstention_curve(cv.examples, cv.predicted)],
    }
    # Plain Python numbers (numpy's are float subclasses that JSON takes but Dagster's metadata does not).
    return json.loads(json.dumps(result))
