"""The local classifier: industry, relevance, intent and quality with no network and no API key.

Industry is a multinomial logistic regression over three views of an RFQ: character n-grams of the title (brand and
model names, other scripts), the static MiniLM embedding of the title and of the whole text (meaning), and the
domain lexicon's term counts (what a trade desk knows). It is trained on the hand-labeled examples and the label
guide's own examples, deterministically, in a few seconds; the fitted model is cached next to the embedder's table.

Relevance is the model's probability mass on the target industries (more likely than not); intent comes from rules
(the labeled data has five non-RFQs, too few to learn from); quality from
:func:`rfq_pipeline.ai.labels.quality_score`.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from rfq_pipeline.ai import lexicon
from rfq_pipeline.ai.embeddings import STATIC_NAME, embedder_named
from rfq_pipeline.ai.labels import DEFAULT_TARGET_INDUSTRIES, INDUSTRIES, Labels, RfqText, quality_score
from rfq_pipeline.ai.training_data import TRAINING_DIR, LabeledExample, labeled_examples

CLASSIFIER_CODE_VERSION = "local-lr-v1"  # bump when features or model change: a new version is backfilled
MODELS_DIR = Path(__file__).resolve().parent / "models"
PROVIDER = "local"
# Relevant when the target industries together are more likely than not. Thresholds picked by cross-validation on
# the training data (mostly one marketplace with few beauty rows) did worse on the held-out folds than this.
RELEVANCE_THRESHOLD = 0.5


def taxonomy_examples() -> list[tuple[str, str]]:
    """(text, industry) pairs from the label guide: each industry's listed products as a short example."""
    examples = []
    for line in (TRAINING_DIR / "TAXONOMY.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"- (\w+): (.+)", line)
        if match and match.group(1) in INDUSTRIES:
            for item in re.split(r",|\(|\)|;", match.group(2)):
                item = re.sub(r"^(e\.g\.|incl\.)\s*", "", item.strip()).strip(" .")
                if len(item) > 2 and "anything else" not in item:
                    examples.append((item, match.group(1)))
    return examples


def _training_fingerprint(examples: Sequence[LabeledExample]) -> str:
    digest = hashlib.sha256(CLASSIFIER_CODE_VERSION.encode())
    digest.update(STATIC_NAME.encode())
    for example in examples:
        digest.update(f"{example.item.id}|{example.item.text()}|{example.industry}|{example.relevant}\n".encode())
    digest.update(repr(sorted(lexicon.LEXICON.items())).encode())
    digest.update(repr(taxonomy_examples()).encode())
    return digest.hexdigest()[:10]


class _Featurizer:
    """Turns RFQs into the model's feature matrix (sparse n-grams next to dense embedding and lexicon columns)."""

    def __init__(self, embedder: str = "minilm-static") -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.embedder = embedder
        self.ngrams = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=50_000, dtype=np.float32
        )

    def fit(self, titles: Sequence[str]) -> _Featurizer:
        self.ngrams.fit(titles)
        return self

    def transform(self, texts: Sequence[str], titles: Sequence[str]):  # -> scipy.sparse.csr_matrix
        from scipy import sparse

        embedder = embedder_named(self.embedder)
        dense = np.hstack(
            [
                embedder.embed(list(texts)),
                embedder.embed(list(titles)),
                2.0 * lexicon.lexicon_features(list(titles)),
                lexicon.lexicon_features(list(texts)),
            ]
        )
        return sparse.hstack([self.ngrams.transform(titles), sparse.csr_matrix(dense)]).tocsr()


def _inputs(items: Iterable[RfqText]) -> tuple[list[str], list[str]]:
    items = list(items)
    # Long templated descriptions (go4world) add little past their first lines; cap the cost per RFQ.
    return [i.text()[:600] for i in items], [i.title for i in items]


@dataclass
class TrainedModel:
    """A fitted industry model and the relevance threshold chosen for it."""

    featurizer: _Featurizer
    model: object  # sklearn LogisticRegression
    classes: tuple[str, ...]
    relevance_threshold: float
    version: str

    def probabilities(self, items: Sequence[RfqText]) -> np.ndarray:
        """(items, classes) class probabilities."""
        texts, titles = _inputs(items)
        return self.model.predict_proba(self.featurizer.transform(texts, titles))  # type: ignore[attr-defined]


def _fit(
    texts: list[str], titles: list[str], labels: list[str], weights: list[float], embedder: str = "minilm-static"
) -> tuple[_Featurizer, object]:
    from sklearn.linear_model import LogisticRegression

    featurizer = _Featurizer(embedder).fit(titles)
    # Unweighted classes: balancing favoured the rare industries and cost accuracy on the folds held out.
    model = LogisticRegression(C=10.0, max_iter=5000)
    model.fit(featurizer.transform(texts, titles), labels, sample_weight=weights)
    return featurizer, model


def _training_set(examples: Sequence[LabeledExample]) -> tuple[list[str], list[str], list[str], list[float]]:
    texts, titles = _inputs(e.item for e in examples)
    labels = [e.industry for e in examples]
    weights = [1.0] * len(examples)
    for text, industry in taxonomy_examples():
        texts.append(text)
        titles.append(text)
        labels.append(industry)
        weights.append(1.0)
    return texts, titles, labels, weights


def _target_mass(probabilities: np.ndarray, classes: Sequence[str], targets: Iterable[str]) -> np.ndarray:
    columns = [i for i, c in enumerate(classes) if c in set(targets)]
    return probabilities[:, columns].sum(axis=1) if columns else np.zeros(len(probabilities))


def train(
    examples: Sequence[LabeledExample] | None = None,
    *,
    relevance_threshold: float = RELEVANCE_THRESHOLD,
    embedder: str = "minilm-static",
) -> TrainedModel:
    """Fit the industry model on ``examples`` (default: every labeled example) plus the label guide's examples."""
    examples = list(labeled_examples() if examples is None else examples)
    featurizer, model = _fit(*_training_set(examples), embedder=embedder)
    threshold = relevance_threshold
    return TrainedModel(
        featurizer=featurizer,
        model=model,
        classes=tuple(model.classes_),  # type: ignore[attr-defined]
        relevance_threshold=threshold,
        version=f"{CLASSIFIER_CODE_VERSION}-{_training_fingerprint(examples)}",
    )


def model_path() -> Path:
    """Where the fitted model of the current training data and static table is cached.

    The table's digest is part of the file name (a rebuilt table retrains the model) but not of the model version:
    the version names what the model was trained on, and stays the same on every machine.
    """
    from rfq_pipeline.ai.embeddings import ensure_static_artifact

    table = hashlib.sha256(ensure_static_artifact().read_bytes()).hexdigest()[:8]
    return MODELS_DIR / f"classifier_{_training_fingerprint(labeled_examples())}_{table}.pkl"


def ensure_trained(path: Path | None = None) -> Path:
    """Train and cache the classifier if the current training data has no fitted model yet (file-locked)."""
    import fcntl

    path = path or model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".classifier.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            trained = train()
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(trained))
            tmp.replace(path)
    return path


# Intent rules. A buyer's request names what they want; a supplier's advert talks about what it makes and sells.
_SUPPLIER = re.compile(
    r"\b(we are (a |an )?(leading )?(manufacturer|supplier|exporter|factory|producer)s?|we (supply|offer|export|"
    r"manufacture|produce)|our (factory|company|products) (is|are|has|have|offer)|supplier of|manufacturer of|"
    r"exporter of|available for export|ready stock available|contact us for (price|catalog))\b",
    re.I,
)
_BUYER = re.compile(
    r"\b(wanted|want to buy|wtb|looking for|need|needed|require|required|requirement|buy|buying|purchase|"
    r"quotation|quote|rfq|importer|interested in)\b",
    re.I,
)
_JUNK = re.compile(r"^(test|testing|asdf+|hello|hi|n/?a|none|null|-+|\.+|\?+|inquire now|add to favorites)$", re.I)


def intent_of(item: RfqText) -> str:
    """``buy_request``, ``supplier_advert`` or ``spam_or_junk`` by rules."""
    title = " ".join(item.title.split())
    letters = re.findall(r"[^\W\d_]", title)
    if not title or len(letters) < 2 or _JUNK.match(title):
        return "spam_or_junk"
    text = f"{title} {item.description}"
    if re.search(r"(https?://|www\.)\S+", title) or len(re.findall(r"\$\$|!!!|casino|crypto|forex|loan offer", text)):
        return "spam_or_junk"
    if _SUPPLIER.search(text) and not _BUYER.search(title):
        return "supplier_advert"
    return "buy_request"


class LocalClassifier:
    """The trained model behind the classifier interface shared with the LLM providers."""

    provider = PROVIDER

    def __init__(self, trained: TrainedModel, targets: Iterable[str] = DEFAULT_TARGET_INDUSTRIES) -> None:
        self._trained = trained
        self.targets = tuple(targets)
        self.model_version = trained.version

    def classify(self, items: Sequence[RfqText]) -> list[Labels]:
        """Labels for each item, in order."""
        if not items:
            return []
        probabilities = self._trained.probabilities(items)
        classes = self._trained.classes
        masses = _target_mass(probabilities, classes, self.targets)
        target_columns = [i for i, c in enumerate(classes) if c in self.targets]
        out = []
        for item, row, mass in zip(items, probabilities, masses, strict=True):
            relevant = bool(target_columns) and bool(mass >= self._trained.relevance_threshold)
            best = int(np.argmax(row))
            if relevant and classes[best] not in self.targets:
                best = max(target_columns, key=lambda i: row[i])
            elif not relevant and classes[best] in self.targets:
                # Below the threshold a target industry is not the answer: take the best other one.
                best = max((i for i in range(len(classes)) if classes[i] not in self.targets), key=lambda i: row[i])
            out.append(
                Labels(
                    id=item.id,
                    industry=classes[best],
                    relevant=relevant,
                    intent=intent_of(item),
                    quality=quality_score(item),
                    provider=PROVIDER,
                    model_version=self.model_version,
                    details={"confidence": round(float(row[best]), 3), "target_mass": round(float(mass), 3)},
                )
            )
        return out


@cache
def _load(path: Path) -> TrainedModel:
    return pickle.loads(path.read_bytes())  # our own artifact, written by ensure_trained


def local_classifier(targets: Iterable[str] | None = None) -> LocalClassifier:
    """The local classifier for the configured target industries (trained and cached on first use)."""
    if targets is None:
        from rfq_pipeline.settings import Settings

        targets = Settings.from_env().target_industries
    return LocalClassifier(_load(_cached_model_path()), targets)


@cache
def _cached_model_path() -> Path:
    return ensure_trained()
