"""The labeled examples the local classifier learns from and the texts the static embedder is distilled on.

Texts are built the way the pipeline sees an RFQ (title, description, quantity, country), so a model trained here
reads production rows the same way.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rfq_pipeline.ai.labels import RfqText

TRAINING_DIR = Path(__file__).resolve().parent / "training"
CORPUS_DIR = Path(__file__).resolve().parents[1] / "devtools" / "corpus"


@dataclass(frozen=True)
class LabeledExample:
    """One hand-labeled RFQ."""

    item: RfqText
    industry: str
    relevant: bool
    is_rfq: bool
    confidence: str  # "high" | "low"
    dataset: str  # "alibaba_uae_dev" | "go4w_2019"


def _yes(value: str) -> bool:
    return value.strip().lower() == "yes"


def _go4w_title(record: dict[str, object]) -> str:
    title = str(record.get("buyerProductName") or "").strip()
    if title:
        return title
    wanted = re.search(r"Wanted\s*:\s*(.+?)\s{2,}", str(record.get("buyerBuyerOF") or ""))
    if wanted:
        return wanted.group(1).strip()
    text = str(record.get("buyerText") or "").strip()
    return text.splitlines()[0][:120] if text else ""


def _go4w_quantity(text: str) -> str:
    found = re.search(r"Quantity(?: Required)?\s*:\s*([^\r\n]+)", text)
    return found.group(1).strip() if found else ""


@cache
def alibaba_rows() -> dict[str, dict[str, str]]:
    """The Alibaba UAE sample keyed by RFQ id."""
    with (CORPUS_DIR / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8") as handle:
        return {row["RFQ ID"]: row for row in csv.DictReader(handle)}


def alibaba_item(row: dict[str, str]) -> RfqText:
    """An Alibaba sample row as the classifier sees it."""
    return RfqText(
        id=row["RFQ ID"], title=row["Title"], quantity=row.get("Quantity Required", ""), country=row.get("Country", "")
    )


@cache
def go4w_records() -> dict[str, dict[str, object]]:
    """The go4worldbusiness sample keyed by record id."""
    with (CORPUS_DIR / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return {str(r["record_id"]): r for r in records}


def go4w_item(record: dict[str, object]) -> RfqText:
    """A go4worldbusiness record as the classifier sees it."""
    text = str(record.get("buyerText") or "")
    return RfqText(
        id=str(record["record_id"]),
        title=_go4w_title(record),
        description=text,
        quantity=_go4w_quantity(text),
        country=str(record.get("buyerCountry") or ""),
    )


@cache
def labeled_examples() -> tuple[LabeledExample, ...]:
    """Every hand-labeled example of both label files, joined with its text."""
    examples: list[LabeledExample] = []
    rows = alibaba_rows()
    with (TRAINING_DIR / "alibaba_uae_dev_labels.csv").open(encoding="utf-8") as handle:
        for label in csv.DictReader(handle):
            row = rows.get(label["rfq_id"])
            if row is None:
                continue
            examples.append(_example(alibaba_item(row), label, "alibaba_uae_dev"))
    records = go4w_records()
    with (TRAINING_DIR / "go4w_2019_labels.csv").open(encoding="utf-8") as handle:
        for label in csv.DictReader(handle):
            record = records.get(label["record_id"])
            if record is None:
                continue
            examples.append(_example(go4w_item(record), label, "go4w_2019"))
    return tuple(examples)


def title_key(title: str) -> str:
    """A title folded for comparison (case, spacing and punctuation ignored)."""
    return " ".join(re.findall(r"\w+", title.casefold()))


@cache
def held_out_title_keys() -> frozenset[str]:
    """Folded titles of the Alibaba rows held out for evaluation (every row of that file without a dev label).

    Stored RFQs can carry these texts (the simulator serves that file), and a person may label one in the desk; such
    a label still corrects the RFQ but never becomes training data.
    """
    with (TRAINING_DIR / "alibaba_uae_dev_labels.csv").open(encoding="utf-8") as handle:
        dev = {label["rfq_id"] for label in csv.DictReader(handle)}
    return frozenset(title_key(row["Title"]) for rfq_id, row in alibaba_rows().items() if rfq_id not in dev) - {""}


def _example(item: RfqText, label: dict[str, str], dataset: str) -> LabeledExample:
    return LabeledExample(
        item=item,
        industry=label["industry"].strip(),
        relevant=_yes(label["relevant_beauty"]),
        is_rfq=_yes(label["is_rfq"]),
        confidence=label.get("confidence", "high").strip() or "high",
        dataset=dataset,
    )


def _slug_title(url: str) -> str:
    slug = url.rstrip().rsplit("/", 1)[-1]
    slug = re.sub(r"-\d+\.html?$", "", slug)
    return slug.replace("-", " ")


@cache
def distillation_texts() -> tuple[str, ...]:
    """Marketplace text the static embedder is fitted on (no row of the Alibaba held-out set).

    The labeled Alibaba rows are included; the other three quarters of that file are the held-out evaluation set
    and stay out of every fitted artifact.
    """
    # Whole texts and titles alone: many RFQs are a title and nothing else.
    texts: list[str] = [example.item.text() for example in labeled_examples()]
    texts += [example.item.title for example in labeled_examples()]
    with (CORPUS_DIR / "tradekey" / "tradekey_buyoffer_urls_2019.txt").open(encoding="utf-8") as handle:
        texts += [_slug_title(line.split("\t")[0]) for line in handle if line.strip()]
    with (TRAINING_DIR / "beauty_product_pairs_sephora_amazon.csv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            texts += [f"{row[4]} {row[3]} {row[5]}".strip(), row[9]]
    for path in sorted(CORPUS_DIR.glob("*/*_seed.json*")):
        raw = path.read_text(encoding="utf-8")
        records = [json.loads(line) for line in raw.splitlines() if line.strip()] if path.suffix == ".jsonl" else None
        if records is None:
            loaded = json.loads(raw)
            records = loaded if isinstance(loaded, list) else next(
                (v for v in loaded.values() if isinstance(v, list)), []
            )
        for record in records:
            if isinstance(record, dict):
                parts = [str(v) for k, v in record.items() if isinstance(v, str) and k.lower() in _TEXT_KEYS]
                if parts:
                    texts.append(". ".join(parts))
    return tuple(t for t in dict.fromkeys(texts) if t.strip())


def distillation_split(held_out_share: float = 0.15) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fit, held_out): a stable hash split of the distillation texts, so agreement is measured on unseen text."""
    fit: list[str] = []
    held_out: list[str] = []
    for text in distillation_texts():
        bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held_out if bucket < held_out_share else fit).append(text)
    return tuple(fit), tuple(held_out)


_TEXT_KEYS = {"title", "subject", "description", "product", "product_name", "name", "brand_name", "generic_name",
              "requirement", "details", "industry"}
