"""Evaluation of the local classifier on labeled data it was not trained on.

Two protocols, both on the hand-labeled Alibaba UAE rows (the marketplace the held-out set comes from):

- ``cv``: 5-fold cross-validation over the labeled Alibaba rows; each fold's model is trained on the other four
  folds plus every go4worldbusiness row, and the relevance threshold is chosen inside the training folds.
- ``cross_site``: trained on go4worldbusiness alone, tested on every labeled Alibaba row (a new marketplace).

Metrics on all rows and on the high-confidence rows: beauty-relevance precision/recall/F1 and industry accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rfq_pipeline.ai.classifier import LocalClassifier, train
from rfq_pipeline.ai.labels import Labels
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


def evaluate(embedder: str = "minilm-static", folds: int = 5) -> dict[str, dict[str, Metrics]]:
    """Run both protocols; returns ``{protocol: {"all" | "high_confidence": Metrics}}``."""
    from sklearn.model_selection import KFold

    examples = list(labeled_examples())
    alibaba = [e for e in examples if e.dataset == "alibaba_uae_dev"]
    others = [e for e in examples if e.dataset != "alibaba_uae_dev"]
    ordered: list[LabeledExample] = []
    predicted: list[Labels] = []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=0).split(np.arange(len(alibaba))):
        model = LocalClassifier(train([alibaba[i] for i in train_idx] + others, embedder=embedder))
        test = [alibaba[i] for i in test_idx]
        ordered += test
        predicted += model.classify([e.item for e in test])
    results = {"cv": _by_confidence(ordered, predicted)}
    cross = LocalClassifier(train(others, embedder=embedder))
    results["cross_site"] = _by_confidence(alibaba, cross.classify([e.item for e in alibaba]))
    return results


def render(results: dict[str, dict[str, Metrics]], embedder: str) -> str:
    """The report printed by ``rfq-pipeline classify evaluate``."""
    lines = [f"local classifier evaluation (embedder {embedder}; targets: relevance F1 >= 0.90, industry acc >= 0.80)"]
    for protocol, subsets in results.items():
        for subset, metrics in subsets.items():
            lines.append(f"{protocol:<11} {subset:<16} {metrics.render()}")
    return "\n".join(lines)
