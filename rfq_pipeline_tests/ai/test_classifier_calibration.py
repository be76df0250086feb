"""The local classifier's calibrated confidences, its batch features against their references, and extra labels.

Speed is not tested here (``make bench`` measures it): these tests check what the fast paths compute.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rfq_pipeline.ai import lexicon
from rfq_pipeline.ai.classifier import (
    ClassifierConfig,
    LocalClassifier,
    _Batch,
    _Featurizer,
    _hashed_char_ngrams,
    expected_calibration_error,
    fit_temperature,
    local_classifier,
    train,
)
from rfq_pipeline.ai.embeddings import embedder_named
from rfq_pipeline.ai.labels import RfqText
from rfq_pipeline.ai.training_data import LabeledExample, labeled_examples


@pytest.fixture(scope="module")
def classifier() -> LocalClassifier:
    return local_classifier(("beauty_personal_care",))


def test_an_obvious_beauty_rfq_is_relevant_with_high_confidence(classifier: LocalClassifier) -> None:
    label = classifier.classify(
        [RfqText("1", "Private label hyaluronic acid face serum and moisturizer cream, 5,000 bottles")]
    )[0]
    assert (label.industry, label.relevant) == ("beauty_personal_care", True)
    assert label.details["relevance_confidence"] >= 0.9
    assert label.details["confidence"] >= 0.8


def test_an_obvious_non_beauty_rfq_is_irrelevant_with_high_confidence(classifier: LocalClassifier) -> None:
    label = classifier.classify([RfqText("1", "Toyota Hilux 2021 pickup trucks, 10 units")])[0]
    assert (label.industry, label.relevant) == ("vehicles_transport", False)
    assert label.details["relevance_confidence"] >= 0.9


def test_the_shipped_model_is_calibrated_on_its_out_of_fold_predictions(classifier: LocalClassifier) -> None:
    trained = classifier._trained
    assert 0.2 < trained.temperature < 5.0
    assert set(trained.calibration) == {"ece_before", "ece_after"}
    # the temperature is fitted for likelihood, not ECE; it must not make the calibration worse than a few points
    assert trained.calibration["ece_after"] <= max(trained.calibration["ece_before"], 0.05) + 0.01


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, size=(4000, 5))
    scaled = np.exp(scores / 2.0)
    probabilities = scaled / scaled.sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(5, p=p) for p in probabilities])
    assert fit_temperature(scores, truth) == pytest.approx(2.0, rel=0.1)


def test_expected_calibration_error_on_hand_made_inputs() -> None:
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([True, True])) == pytest.approx(0.1)
    assert expected_calibration_error(np.array([0.55, 0.55]), np.array([True, False])) == pytest.approx(0.05)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0


def test_the_batched_static_embeddings_equal_the_embedder() -> None:
    items = [e.item for e in labeled_examples()[:20]] + [e.item for e in labeled_examples()[-20:]]
    items.append(RfqText("x", "  Argan oil shampoo  ", description="Sulfate free,\n private-label; 10,000 bottles"))
    batch = _Batch.of(items)
    titles, texts, _ = _Featurizer()._embeddings(batch)
    embedder = embedder_named("minilm-static")
    assert np.min(np.sum(titles * embedder.embed(batch.titles), axis=1)) > 0.9999
    assert np.min(np.sum(texts * embedder.embed(batch.texts()), axis=1)) > 0.9999
    assert batch.texts()[-1] == "Argan oil shampoo. Sulfate free, private-label; 10,000 bottles"


def test_the_one_pass_lexicon_counts_what_the_per_industry_patterns_count() -> None:
    texts = [e.item.text()[:600] for e in labeled_examples()[::7]] + [
        "Perfume bottle and lip gloss, LIP GLOSS tubes; l'oreal shampoo",
        "косметика оптом и шампунь",
        "exfoliating scrub",
        "",
    ]
    expected = np.array([list(lexicon.lexicon_hits(t).values()) for t in texts], dtype=np.float32)
    np.testing.assert_array_equal(lexicon.lexicon_counts(texts), expected)


def test_hashed_char_ngrams_do_not_depend_on_the_batch() -> None:
    alone = _hashed_char_ngrams(["Lipstick 500 pcs"])
    among = _hashed_char_ngrams(["Hydraulic excavator", "Lipstick 500 pcs", ""])
    assert (alone[0] != among[1]).nnz == 0
    assert among[2].nnz == 0
    # " lip" (a word start) and "lips" are n-grams; nothing spans two words
    padded = [len(word) + 2 for word in ("lipstick", "500", "pcs")]
    assert alone.sum() == sum(size - n + 1 for size in padded for n in range(2, 6) if size >= n)


def _example(title: str, industry: str, dataset: str) -> LabeledExample:
    return LabeledExample(
        item=RfqText(f"{dataset}-{title}", title), industry=industry, relevant=industry == "beauty_personal_care",
        is_rfq=True, confidence="high", dataset=dataset,
    )  # fmt: skip


def test_train_accepts_human_and_claude_labels_and_pickles() -> None:
    base = list(labeled_examples()[:60])
    extra = [
        _example("Zorblax shimmer night balm for lips", "beauty_personal_care", "human"),
        _example("Zorblax shimmer gloss for lips", "beauty_personal_care", "claude"),
    ]
    config = ClassifierConfig(calibrate=False)
    without, with_extra = train(base, config=config), train(base + extra, config=config)
    assert without.version != with_extra.version
    again = pickle.loads(pickle.dumps(with_extra))
    item = [RfqText("1", "Zorblax shimmer balm")]
    np.testing.assert_allclose(again.probabilities(item), with_extra.probabilities(item), rtol=1e-5)
    column = with_extra.classes.index("beauty_personal_care")
    assert with_extra.probabilities(item)[0, column] > without.probabilities(item)[0, column]
