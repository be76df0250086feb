"""The pair decision: vetoes for what makes two requests different, the fitted model, and the dev-set figures."""

import json
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from rfq_pipeline.dedup.attributes import extract
from rfq_pipeline.dedup.pair_model import (
    CURVE_THRESHOLDS,
    LABELS_DIR,
    cross_validate,
    folds_by_family,
    load_dev_set,
    operating_point,
)
from rfq_pipeline.dedup.pairs import FEATURES, Member, decide_pair, default_model, judge_clusters, tokens_match
from rfq_pipeline.settings import Settings

CLI = str(Path(sys.executable).with_name("rfq-pipeline"))

# One request of this test's own, as go4WorldBusiness and as an e-mail would carry it.
GO4W = {
    "title": "Wanted : Argan Oil Shampoo",
    "description": "Product Name : Argan Oil Shampoo\nSpecifications :\nVolume : 400 ml\nPacking : PET Bottle, Pump\n\n"
    "Quantity Required : 12,000 Pcs\nDestination Port : Jeddah, Saudi Arabia\nContact : Contact-0a1b2c3d",
    "quantity": "12,000 Pcs",
    "country": "Saudi Arabia",
    "buyer": "",
}
MAIL = {
    "title": "Quote request: argan oil shampoo 400ml x 12k",
    "description": "Dear supplier,\nplease quote 12k argan oil shampoo, 400 ml PET bottle with pump, CIF Jeddah.\n"
    "Regards,\nContact-0a1b2c3d\nWaha Beauty Trading Est.",
    "quantity": "12k",
    "country": "KSA",
    "buyer": "Waha Beauty Trading Est.",
}


def _decide(a: dict[str, str], b: dict[str, str]):
    return decide_pair(extract(**a), extract(**b), None, default_model())


def test_one_request_on_a_marketplace_and_in_an_email_matches() -> None:
    decision = _decide(GO4W, MAIL)
    assert decision.matched and not decision.vetoes
    assert decision.evidence.buyer == "same" and decision.evidence.country == "same"
    assert decision.evidence.quantity == "same"


@pytest.mark.parametrize(
    ("change", "veto"),
    [
        ({"country": "Oman", "description": MAIL["description"].replace("Contact-0a1b2c3d", "Contact-99999999")},
         "different destination"),
        ({"description": MAIL["description"].replace("Contact-0a1b2c3d", "Contact-99999999"),
          "buyer": "Nakheel Cosmetics LLC"}, "different buyer"),
        ({"title": "Quote request: argan oil shampoo 250ml x 12k",
          "description": MAIL["description"].replace("400 ml", "250 ml")}, "different volume_ml"),
        ({"quantity": "30k", "description": MAIL["description"].replace("12k", "30k")}, "quantity 2x or more apart"),
        ({"title": "Repeat order: argan oil shampoo 400ml x 12k"}, "stated as a separate order"),
        ({"description": MAIL["description"].replace("PET bottle", "glass bottle")}, "different material"),
    ],
)  # fmt: skip
def test_what_makes_two_requests_different_vetoes_the_pair(change: dict[str, str], veto: str) -> None:
    decision = _decide(GO4W, MAIL | change)
    assert not decision.matched
    assert veto in decision.vetoes


def test_a_product_in_other_words_needs_the_buyer_and_the_amount_to_agree() -> None:
    # Another product from another (unnamed) buyer: no word in common and nothing confirming.
    other = {
        "title": "Wanted : Hair Dryer",
        "description": "Product Name : Hair Dryer\n2000 W",
        "quantity": "12,000 Pcs",
    }
    decision = _decide(GO4W | {"description": GO4W["description"].replace("Contact : Contact-0a1b2c3d", "")}, other)
    assert decision.evidence.unsupported and not decision.matched


def test_typos_and_compounds_still_meet() -> None:
    assert tokens_match("remower", "remover") and tokens_match("nigth", "night") and tokens_match("nials", "nails")
    assert tokens_match("cashewnut", "cashew") and tokens_match("droper", "dropper")
    assert not tokens_match("hand", "handmade") and not tokens_match("gel", "gem")


def test_a_cluster_is_joined_only_when_no_member_vetoes() -> None:
    model = default_model()
    base = extract(**GO4W)
    bigger = extract(**(GO4W | {"quantity": "60,000 Pcs"}))
    mail = extract(**MAIL)
    verdicts = judge_clusters(mail, {1: [Member(1, base)], 2: [Member(2, base), Member(3, bigger)]}, model)
    by_cluster = {v.cluster_id: v for v in verdicts}
    assert by_cluster[1].matched
    assert not by_cluster[2].matched and "quantity" in by_cluster[2].veto


def test_the_shipped_model_matches_its_features_and_was_cross_validated() -> None:
    model = default_model()
    assert len(model.weights) == len(FEATURES) and 0 < model.min_probability < 1
    assert model.fitted_on["cv_precision"] >= 0.98 and model.fitted_on["cv_recall"] >= 0.95
    assert model.with_threshold(0.9).min_probability == 0.9 and model.with_threshold(None) is model


def test_dev_set_folds_keep_each_family_together() -> None:
    items = load_dev_set()
    folds = folds_by_family(items)
    assert sorted(i for fold in folds for i in fold) == list(range(len(items)))
    family_fold = {}
    for n, fold in enumerate(folds):
        for i in fold:
            assert family_fold.setdefault(items[i].family, n) == n


def test_cross_validated_precision_and_recall_on_the_labeled_dev_set() -> None:
    # Each fold is clustered in posting order by a model fitted on the other folds (families never straddle folds).
    items = load_dev_set()
    results = cross_validate(items, CURVE_THRESHOLDS)
    chosen = operating_point(results)
    assert results[chosen].precision >= 0.98 and results[chosen].recall >= 0.95
    # The curve is monotone where it matters: a stricter threshold never gains recall.
    recalls = [results[t].recall for t in sorted(results)]
    assert recalls == sorted(recalls, reverse=True)


def test_rfq_pipeline_dedup_on_the_dev_set_through_its_entry_point(pg_url: str, tmp_path: Path) -> None:
    records = [json.loads(line) for line in (LABELS_DIR / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    source = tmp_path / "dev.jsonl"
    source.write_text("\n".join(json.dumps({k: v for k, v in r.items() if k != "gold_cluster"}) for r in records))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "DATABASE_URL": pg_url, "RFQ_DATA_DIR": str(tmp_path / "data")}
    env.pop("ANTHROPIC_API_KEY", None)
    done = subprocess.run(
        [CLI, "dedup", "--input", str(source), "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    cluster = {row["id"]: row["cluster_id"] for row in map(json.loads, out.read_text().splitlines())}
    gold = {r["id"]: r["gold_cluster"] for r in records}
    pairs = list(combinations(sorted(gold), 2))
    tp = sum(1 for a, b in pairs if gold[a] == gold[b] and cluster[a] == cluster[b])
    fp = sum(1 for a, b in pairs if gold[a] != gold[b] and cluster[a] == cluster[b])
    fn = sum(1 for a, b in pairs if gold[a] == gold[b] and cluster[a] != cluster[b])
    assert tp / (tp + fp) >= 0.98 and tp / (tp + fn) >= 0.95, (tp, fp, fn)


def test_the_precision_recall_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFQ_DEDUP_MIN_PROBABILITY", "0.8")
    monkeypatch.setenv("RFQ_DEDUP_CLAUDE_BAND", "off")
    settings = Settings.from_env()
    assert settings.dedup_min_probability == 0.8 and settings.dedup_claude_band is None
    monkeypatch.setenv("RFQ_DEDUP_MIN_PROBABILITY", "1.5")
    with pytest.raises(Exception, match="RFQ_DEDUP_MIN_PROBABILITY"):
        Settings.from_env()
