"""The evaluation's intervals and its most-confident-errors list, on hand-made rows whose answers are known."""

from __future__ import annotations

from rfq_pipeline.ai.evaluation import bootstrap, confident_errors, score
from rfq_pipeline.ai.labels import Labels, RfqText
from rfq_pipeline.ai.training_data import LabeledExample


def _example(rfq_id: str, industry: str, relevant: bool, title: str = "x") -> LabeledExample:
    return LabeledExample(RfqText(rfq_id, title), industry, relevant, True, "high", "t")


def _pred(rfq_id: str, industry: str, relevant: bool, confidence: float, mass: float) -> Labels:
    return Labels(rfq_id, industry, relevant, "buy_request", 0.5, "local", "v",
                  details={"confidence": confidence, "target_mass": mass})  # fmt: skip


def test_a_perfect_model_has_a_point_interval_and_an_imperfect_one_brackets_its_score() -> None:
    examples = [_example(str(i), "beauty_personal_care" if i % 3 else "electronics", i % 3 != 0) for i in range(60)]
    perfect = [_pred(e.item.id, e.industry, e.relevant, 0.9, 0.9 if e.relevant else 0.1) for e in examples]
    intervals = bootstrap(examples, perfect)
    assert all((i.low, i.high) == (1.0, 1.0) for i in intervals.values())

    # Every fourth row wrong in both heads: accuracy 0.75, and an interval around it that the seed repeats.
    flawed = [
        _pred(e.item.id, "other", not e.relevant, 0.8, 0.5) if n % 4 == 0 else _pred(e.item.id, e.industry, e.relevant,
                                                                                       0.8, 0.5)
        for n, e in enumerate(examples)
    ]  # fmt: skip
    metrics, intervals = score(examples, flawed), bootstrap(examples, flawed)
    accuracy, f1 = intervals["industry_accuracy"], intervals["relevance_f1"]
    assert accuracy.low < metrics.industry_accuracy == 0.75 < accuracy.high and accuracy.high - accuracy.low < 0.3
    assert f1.low < metrics.relevance_f1 < f1.high
    assert bootstrap(examples, flawed) == intervals  # seeded: the same rows give the same interval
    assert bootstrap([], []) == {}


def test_the_errors_the_model_was_surest_of_come_first() -> None:
    examples = [
        _example("a", "beauty_personal_care", True, "Argan oil 100ml"),
        _example("b", "electronics", False, "USB cable"),
        _example("c", "machinery_industrial", False, "Cream filling machine"),
        _example("d", "beauty_personal_care", True, "Lipstick"),
    ]
    predicted = [
        _pred("a", "beauty_personal_care", True, 0.95, 0.95),  # right: never listed
        _pred("b", "home_living", False, 0.70, 0.05),  # wrong industry, fairly sure
        _pred("c", "beauty_personal_care", True, 0.99, 0.99),  # wrong twice, very sure
        _pred("d", "beauty_personal_care", False, 0.55, 0.40),  # wrong relevance, unsure (0.60 on its side)
    ]
    errors = confident_errors(examples, predicted, limit=3)
    assert [(e.example.item.id, e.kind, round(e.confidence, 2)) for e in errors] == [
        ("c", "industry", 0.99), ("c", "relevance", 0.99), ("b", "industry", 0.7)]  # fmt: skip
    assert errors[0].render() == "0.99  industry  said 'beauty_personal_care', label 'machinery_industrial': " \
                                 "'Cream filling machine'"  # fmt: skip
    assert [e.example.item.id for e in confident_errors(examples, predicted)] == ["c", "c", "b", "d"]


def test_per_industry_f1_and_what_abstaining_would_keep() -> None:
    from rfq_pipeline.ai.evaluation import abstention_curve, per_industry_f1

    examples = [_example(str(i), "beauty_personal_care" if i < 6 else "electronics", i < 6) for i in range(10)]
    # Sure and right on rows 0-5, unsure and wrong on 6-9 (electronics called beauty).
    predicted = [_pred(e.item.id, "beauty_personal_care", True, 0.9 if n < 6 else 0.4, 0.9) for n, e in
                 enumerate(examples)]  # fmt: skip
    f1 = per_industry_f1(examples, predicted)
    assert list(f1) == ["beauty_personal_care", "electronics"]
    assert f1["beauty_personal_care"] == (6, 2 * 0.6 * 1.0 / 1.6) and f1["electronics"] == (4, 0.0)
    low, high = abstention_curve(examples, predicted, thresholds=(0.3, 0.5))
    assert (low.coverage, low.accuracy_above, low.accuracy_below) == (1.0, 0.6, 0.0)  # nothing below: scored as 0
    assert (high.coverage, high.accuracy_above, high.accuracy_below) == (0.6, 1.0, 0.0)
