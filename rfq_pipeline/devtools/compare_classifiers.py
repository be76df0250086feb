"""Classifier heads and feature views side by side: ``python -m rfq_pipeline.devtools.compare_classifiers``.

Every variant is scored by the protocols of :mod:`rfq_pipeline.ai.evaluation` (the same folds): 5-fold
cross-validation over the labeled Alibaba rows (each fold trained on the other folds plus every go4worldbusiness
row), ``cross_site`` (trained on go4worldbusiness only, tested on the Alibaba rows) and ``cross_site_back`` (the
other way), plus the classification rate on a batch of real RFQs. Only the dev labels are read; the held-out Alibaba
rows are never touched.

A choice that helps cross-validation but hurts a cross-site figure is tuned to the 487 rows, not better on unseen
data: pick the default by all of them together.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rfq_pipeline.ai.classifier import (
    DEFAULT_CONFIG,
    ClassifierConfig,
    LocalClassifier,
    _softmax,
    expected_calibration_error,
    train,
)
from rfq_pipeline.ai.evaluation import Metrics, score
from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.ai.training_data import LabeledExample, labeled_examples

# The views of local-lr-v1 (lexicon counts of the title and of the whole text, texts capped at 600 characters):
# heads and views were first compared from there, one change at a time.
V1_VIEWS = dataclasses.replace(DEFAULT_CONFIG, text_cap=600, lexicon_views="title+text")

# Name -> config.
VARIANTS: dict[str, ClassifierConfig] = {
    "v1 views, lr C=10 (local-lr-v1)": V1_VIEWS,
    "v1 views, lr C=3": dataclasses.replace(V1_VIEWS, c=3.0),
    "v1 views, lr C=30": dataclasses.replace(V1_VIEWS, c=30.0),
    "v1 views, lr balanced classes": dataclasses.replace(V1_VIEWS, class_weight="balanced"),
    "v1 views, linear svm": dataclasses.replace(V1_VIEWS, head="svm"),
    "v1 views, complement nb (sparse views)": dataclasses.replace(V1_VIEWS, head="cnb"),
    "v1 views, lr + complement nb": dataclasses.replace(V1_VIEWS, head="lr+cnb"),
    "v1 views, lr + svm": dataclasses.replace(V1_VIEWS, head="lr+svm"),
    "v1 views - title char n-grams": dataclasses.replace(V1_VIEWS, title_chars=False),
    "v1 views + description char n-grams": dataclasses.replace(V1_VIEWS, description_chars=True),
    "v1 views + text word(piece) tokens": dataclasses.replace(V1_VIEWS, text_tokens=True),
    "v1 views - text embedding": dataclasses.replace(V1_VIEWS, embed_text=False),
    "v1 views - title embedding": dataclasses.replace(V1_VIEWS, embed_title=False),
    "v1 views - both embeddings": dataclasses.replace(V1_VIEWS, embed_text=False, embed_title=False),
    "v1 views - lexicon": dataclasses.replace(V1_VIEWS, lexicon=False),
    "v1 views, text cap 300": dataclasses.replace(V1_VIEWS, text_cap=300),
    "v1 views, lexicon of the title only": dataclasses.replace(V1_VIEWS, lexicon_views="title"),
    "v1 views, lexicon of the text only": dataclasses.replace(V1_VIEWS, lexicon_views="text"),
    "cap 300, lr C=30": dataclasses.replace(V1_VIEWS, text_cap=300, c=30.0),
    "cap 300, title lexicon (default, local-lr-v2)": DEFAULT_CONFIG,
    "cap 300, title lexicon, + text tokens": dataclasses.replace(DEFAULT_CONFIG, text_tokens=True),
}


@dataclass(frozen=True)
class Row:
    """One variant's figures."""

    variant: str
    cv: Metrics
    cross_site: Metrics
    cross_site_back: Metrics
    rfqs_per_s: float
    train_s: float

    def render(self) -> str:
        """One table row (markdown)."""
        return (
            f"| {self.variant} | {self.cv.industry_accuracy:.3f} | {self.cv.relevance_f1:.3f} | "
            f"{self.cross_site.industry_accuracy:.3f} / {self.cross_site.relevance_f1:.3f} | "
            f"{self.cross_site_back.industry_accuracy:.3f} / {self.cross_site_back.relevance_f1:.3f} | "
            f"{self.rfqs_per_s:,.0f} | {self.train_s:.1f} |"
        )


HEADER = (
    "| variant | CV acc | CV F1 | cross_site acc / F1 | cross_site_back acc / F1 | RFQs/s | train s |\n"
    "|---|---|---|---|---|---|---|"
)


def _predict(examples: Sequence[LabeledExample], tests: Sequence[LabeledExample], config: ClassifierConfig):
    return LocalClassifier(train(examples, config=config)).classify([e.item for e in tests])


def compare(config: ClassifierConfig, name: str, *, folds: int = 5, rate_rows: int = 5_000) -> Row:
    """Score one variant by the evaluation protocols, and time it."""
    from sklearn.model_selection import KFold

    examples = list(labeled_examples())
    alibaba = [e for e in examples if e.dataset == "alibaba_uae_dev"]
    others = [e for e in examples if e.dataset != "alibaba_uae_dev"]
    ordered: list[LabeledExample] = []
    predicted = []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=0).split(np.arange(len(alibaba))):
        test = [alibaba[i] for i in test_idx]
        ordered += test
        predicted += _predict([alibaba[i] for i in train_idx] + others, test, config)
    started = time.perf_counter()
    trained = train(others, config=config)
    train_s = time.perf_counter() - started
    cross = LocalClassifier(trained).classify([e.item for e in alibaba])
    back = _predict(alibaba, others, config)
    items = [e.item for e in examples]
    batch = [RfqText(str(i), items[i % len(items)].title, items[i % len(items)].description) for i in range(rate_rows)]
    model = LocalClassifier(trained)
    model.classify(batch[:100])
    started = time.perf_counter()
    model.classify(batch)
    rate = rate_rows / (time.perf_counter() - started)
    return Row(name, score(ordered, predicted), score(alibaba, cross), score(others, back), rate, train_s)


def calibration_report(config: ClassifierConfig = DEFAULT_CONFIG, folds: int = 5) -> str:
    """Expected calibration error of the industry and relevance confidences on the cross-validation's held-out
    folds, with the raw softmax (temperature 1) and with the temperature each fold's :func:`train` fitted on its own
    training rows."""
    from sklearn.model_selection import KFold

    examples = list(labeled_examples())
    alibaba = [e for e in examples if e.dataset == "alibaba_uae_dev"]
    others = [e for e in examples if e.dataset != "alibaba_uae_dev"]
    raw, calibrated, truth, relevant, temperatures = [], [], [], [], []
    for train_idx, test_idx in KFold(folds, shuffle=True, random_state=0).split(np.arange(len(alibaba))):
        trained = train([alibaba[i] for i in train_idx] + others, config=config)
        test = [alibaba[i] for i in test_idx]
        scores = trained.scores([e.item for e in test])
        raw.append(_softmax(scores.copy()))
        calibrated.append(_softmax(scores / trained.temperature))
        truth += [trained.classes.index(e.industry) for e in test]
        relevant += [e.relevant for e in test]
        temperatures.append(trained.temperature)
    truth_array, relevant_array = np.array(truth), np.array(relevant)
    target = list(trained.classes).index("beauty_personal_care")
    lines = [f"temperatures fitted per fold: {', '.join(f'{t:.2f}' for t in temperatures)}"]
    for name, probabilities in (("softmax (T=1)", np.vstack(raw)), ("calibrated", np.vstack(calibrated))):
        top = probabilities.max(axis=1)
        mass = probabilities[:, target]
        said = mass >= 0.5
        industry = expected_calibration_error(top, probabilities.argmax(axis=1) == truth_array)
        relevance = expected_calibration_error(np.where(said, mass, 1 - mass), said == relevant_array)
        lines.append(
            f"{name:<14} industry ECE {industry:.3f} (mean confidence {top.mean():.3f}, accuracy "
            f"{np.mean(probabilities.argmax(axis=1) == truth_array):.3f}); relevance ECE {relevance:.3f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the comparison table (markdown), one variant at a time as it finishes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument(
        "--calibrate", action="store_true", help="fit each model's temperature too (4 fits per training instead of 1)"
    )
    parser.add_argument("--calibration", action="store_true", help="print the default's calibration report only")
    args = parser.parse_args(argv)
    if args.calibration:
        print(calibration_report())
        return
    print(HEADER, flush=True)
    for name, config in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        print(compare(dataclasses.replace(config, calibrate=args.calibrate), name).render(), flush=True)


if __name__ == "__main__":
    main()
