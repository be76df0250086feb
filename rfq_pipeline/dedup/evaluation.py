"""Pairwise precision and recall of dedup on real repost data.

Ground truth, all from the package's real corpus (``rfq_pipeline/devtools/corpus``):

- positives: the 20 reposts of one go4WorldBusiness lead (``go4w_reposted_lead_2021.csv``: one lead, 20 dates, each
  rendered as its own listing), and every TradeKey slug listed under several ids (``tradekey_buyoffer_urls_2019.txt``;
  title rebuilt from the slug as the simulator does, each id its own listing URL);
- negatives: the 2,000 Alibaba requests of ``alibaba_rfq_uae_2025-07.csv``, which are distinct requests (look-alike
  titles from different buyers, several requests of one buyer), and every pair across the three sets.

Near-duplicates (``cross_site_copies``, a separate set so the exact reposts above keep their own numbers): 120 real
go4worldbusiness buy leads, each paired with a copy as another marketplace would show the same request (a
rephrased title, the specification block without its boilerplate, the quantity written differently, no buyer
name). The copies are generated from the real text by fixed rules; every other pair in that set is unlabeled,
since the 2019 sample holds real reposts of its own.

Two Alibaba requests of one buyer are unlabeled too (a repost under a new title is one request by the labeled
cross-marketplace set's rule, and the file cannot tell a repost from a second need). TradeKey pairs with different
slugs are unlabeled ("Buy-Waste-Paper" and "Want-To-Buy-Waste-Paper" may or may not
be one buyer): they count in neither precision nor recall and are reported as ``unlabeled_merged_pairs``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from rfq_pipeline.settings import Settings

CORPUS = Path(__file__).resolve().parent.parent / "devtools" / "corpus"


@dataclass(frozen=True)
class LabeledRecord:
    """One input record and the request it belongs to (``group``), or ``None`` for a known-distinct request."""

    record: dict[str, Any]
    dataset: str
    group: str | None  # records with the same group are one request; None: distinct from everything else


@dataclass
class DedupEvaluation:
    """Pairwise dedup quality on the labeled records."""

    records: int
    clusters: int
    true_positive_pairs: int
    false_positive_pairs: int
    false_negative_pairs: int
    unlabeled_merged_pairs: int
    precision: float
    recall: float
    by_matched_by: dict[str, int] = field(default_factory=dict)
    false_positive_examples: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> str:
        """A short human-readable report."""
        lines = [
            f"dedup evaluation: {self.records} records -> {self.clusters} clusters",
            f"pairwise precision {self.precision:.4f}  recall {self.recall:.4f}",
            f"pairs: tp={self.true_positive_pairs} fp={self.false_positive_pairs} fn={self.false_negative_pairs} "
            f"unlabeled merged={self.unlabeled_merged_pairs}",
            f"matched_by: {dict(sorted(self.by_matched_by.items()))}",
        ]
        lines += [f"  false positive: {a!r} ~ {b!r}" for a, b in self.false_positive_examples]
        return "\n".join(lines)


def _go4w_reposts() -> list[LabeledRecord]:
    out = []
    with (CORPUS / "go4w_reposted_lead_2021.csv").open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            text = row["Commodities"]
            product = re.search(r"Product Name\s*:\s*([^\n]+)", text)
            month, day, year = row["Date"].split("-")
            record = {
                "source": "go4worldbusiness",
                "id": f"go4w-coconut-{number}",
                "title": f"Wanted : {product.group(1).strip() if product else 'product'}",
                "description": text,
                "quantity": "1 Forty-Foot Container",
                "country": "United States",
                "buyer": row["Buyer"],
                "posted_at": f"20{year}-{_MONTHS[month]:02d}-{int(day):02d}T00:00:00+00:00",
            }
            out.append(LabeledRecord(record, "go4w", "go4w:coconut-milk"))
    return out


_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}


def _tradekey_offers() -> list[LabeledRecord]:
    from rfq_pipeline.devtools.simulator.sites.tradekey import corpus_urls, title_from_slug

    urls = corpus_urls()
    slug_count = Counter(slug for _line, slug, _id in urls)
    out = []
    for _line, slug, offer_id in urls:
        record = {
            "source": "tradekey",
            "id": offer_id,
            "title": title_from_slug(slug),
            "url": f"https://importer.tradekey.com/buyoffer/{slug}-{offer_id}.html",
        }
        # A slug seen once is a request of its own as far as the data tells: labeled only through other datasets.
        group = f"tradekey:{slug}" if slug_count[slug] > 1 else f"tradekey-single:{slug}"
        out.append(LabeledRecord(record, "tradekey", group))
    return out


def _alibaba_requests() -> list[LabeledRecord]:
    out = []
    with (CORPUS / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            record = {
                "source": "alibaba_rfq",
                "id": row["RFQ ID"],
                "title": row["Title"],
                "quantity": row["Quantity Required"],
                "country": row["Country"],
                "buyer": row["Buyer Name"],
                "url": row["Inquiry URL"],
            }
            out.append(LabeledRecord(record, "alibaba", None))
    return out


_TITLE_FORMS = ("Looking for {}", "{} required", "Buy {}", "Need {} urgently", "Importer wants {}")
_QUANTITY_WORDS = {
    "Ton": "MT",
    "Tons": "MT",
    "Metric Ton": "MT",
    "Metric Tons": "MT",
    "Piece": "pcs",
    "Pieces": "pcs",
    "Kilogram": "kg",
    "Kilograms": "kg",
    "Twenty-Foot Container": "x 20ft FCL",
    "Forty-Foot Container": "x 40ft FCL",
}


def _copy_of(record: dict[str, Any], index: int) -> dict[str, Any]:
    """The same request as a second marketplace would list it (deterministic rules, real text)."""
    product = re.sub(r"^Wanted\s*:\s*", "", record["title"]).strip()
    lines = [line.strip() for line in record["description"].splitlines() if line.strip()]
    # Keep the product and specification lines; drop the greeting and the contact line the other site would not show.
    body = [line for line in lines[1:] if not line.lower().startswith(("contact", "looking for suppliers"))]
    quantity = record["quantity"]
    for word, short in _QUANTITY_WORDS.items():
        quantity = re.sub(rf"\b{re.escape(word)}\b", short, quantity)
    return {
        "source": "tradeindia",
        "id": f"copy-{record['id']}",
        "title": _TITLE_FORMS[index % len(_TITLE_FORMS)].format(product),
        "description": "\n".join(body),
        "quantity": quantity.replace("(Negotiable)", "").strip(),
        "country": record["country"],
        "buyer": "",
        "posted_at": record.get("posted_at"),
    }


def cross_site_copies(limit: int = 120) -> list[LabeledRecord]:
    """Real go4worldbusiness buy leads, each with a generated copy on another marketplace (near-duplicates)."""
    import json

    out: list[LabeledRecord] = []
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        leads = [json.loads(line) for line in handle if line.strip()]
    for record in leads:
        text = str(record.get("buyerText") or "")
        product = str(record.get("buyerProductName") or "").strip()
        quantity = re.search(r"Quantity(?: Required)?\s*:\s*([^\r\n]+)", text)
        if not product or not quantity or "/buylead/" not in str(record.get("buyerCompanyLink") or ""):
            continue
        original = {
            "source": "go4worldbusiness",
            "id": f"go4w-{record['record_id']}",
            "title": f"Wanted : {product}",
            "description": text.replace("\r", ""),
            "quantity": quantity.group(1).strip(),
            "country": str(record.get("buyerCountry") or ""),
            "buyer": str(record.get("buyerCompanyName") or ""),
        }
        group = f"copy:{record['record_id']}"
        out.append(LabeledRecord(original, "go4w_leads", group))
        out.append(LabeledRecord(_copy_of(original, len(out)), "go4w_leads", group))
        if len(out) >= 2 * limit:
            break
    return out


def labeled_records() -> list[LabeledRecord]:
    """Every labeled record: go4w reposts, then TradeKey offers, then Alibaba requests."""
    return [*_go4w_reposts(), *_tradekey_offers(), *_alibaba_requests()]


def _pairs(groups: Iterable[list[int]]) -> set[tuple[int, int]]:
    return {pair for members in groups for pair in combinations(sorted(members), 2)}


def _same_request(a: LabeledRecord, b: LabeledRecord) -> bool | None:
    """True/False when the data says so; None for two TradeKey offers of different slugs."""
    if a.group is not None and a.group == b.group:
        return True
    if a.dataset == b.dataset and a.dataset in ("tradekey", "go4w_leads"):
        return None
    if a.dataset == b.dataset == "alibaba" and a.record.get("buyer") and a.record["buyer"] == b.record.get("buyer"):
        # One buyer's two posts of one product ("LED Headlights", "Universal LED Headlights", both 1 piece): by the
        # labeled set's rule a repost under another title is one request, and the file cannot tell which they are.
        return None
    return False


def evaluate(
    records: list[LabeledRecord] | None = None, settings: Settings | None = None, *, min_similarity: float | None = None
) -> DedupEvaluation:
    """Cluster the labeled records in a fresh store and score every pair; also prints the report."""
    from rfq_pipeline.dedup.cli import dedup_records

    labeled = labeled_records() if records is None else records
    run = dedup_records([item.record for item in labeled], settings, min_similarity=min_similarity)
    predicted_clusters: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(run.rows):
        predicted_clusters[row["cluster_id"]].append(index)
    truth_groups: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(labeled):
        if item.group is not None:
            truth_groups[item.group].append(index)

    predicted = _pairs(predicted_clusters.values())
    positives = _pairs(truth_groups.values())
    tp = fp = unlabeled = 0
    examples: list[tuple[str, str]] = []
    for i, j in predicted:
        verdict = _same_request(labeled[i], labeled[j])
        if verdict is None:
            unlabeled += 1
        elif verdict:
            tp += 1
        else:
            fp += 1
            if len(examples) < 10:
                examples.append((labeled[i].record["title"], labeled[j].record["title"]))
    fn = len(positives - predicted)
    evaluation = DedupEvaluation(
        records=len(labeled),
        clusters=len(predicted_clusters),
        true_positive_pairs=tp,
        false_positive_pairs=fp,
        false_negative_pairs=fn,
        unlabeled_merged_pairs=unlabeled,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=(len(positives) - fn) / len(positives) if positives else 1.0,
        by_matched_by=dict(run.by_matched_by),
        false_positive_examples=examples,
    )
    print(evaluation.render())
    return evaluation


def main() -> None:
    """Print both evaluations on the configured server (temporary databases)."""
    evaluate()
    print("near-duplicates (cross-site copies of real go4world leads):")
    evaluate(cross_site_copies())


if __name__ == "__main__":
    main()
