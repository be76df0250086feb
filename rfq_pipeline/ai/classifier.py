"""The local classifier: industry, relevance, intent and quality with no network and no API key.

Industry is a linear model over views of an RFQ: character n-grams of the title (brand and model names, other
scripts), the static MiniLM embedding of the title and of the whole text (meaning), and the domain lexicon's term
counts (what a trade desk knows). It is trained on the hand-labeled examples and the label guide's own examples,
deterministically, in a few seconds; the fitted model is cached next to the embedder's table.

Every view is computed for a whole batch at once (one tokenizer pass shared by both embeddings, one regex scan for
the lexicon, character n-grams hashed with numpy), so classifying costs a fraction of a millisecond per RFQ.

Probabilities are calibrated: a temperature fitted on out-of-fold predictions of the training rows inside
:func:`train` scales the model's scores, so ``confidence`` (the probability that the industry is right) and
``relevance_confidence`` (that the relevance call is right) mean what they say. Relevance is the calibrated mass on
the target industries (more likely than not); intent comes from rules (the labeled data has five non-RFQs, too few
to learn from); quality from :func:`rfq_pipeline.ai.labels.quality_score`.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import chain
from pathlib import Path

import numpy as np

from rfq_pipeline.ai import lexicon
from rfq_pipeline.ai.embeddings import STATIC_NAME, StaticMiniLM, embedder_named
from rfq_pipeline.ai.labels import DEFAULT_TARGET_INDUSTRIES, INDUSTRIES, Labels, RfqText, quality_score
from rfq_pipeline.ai.training_data import TRAINING_DIR, LabeledExample, labeled_examples

CLASSIFIER_CODE_VERSION = "local-lr-v3"  # bump when features or model change: a new version is backfilled
MODELS_DIR = Path(__file__).resolve().parent / "models"
PROVIDER = "local"
# Relevant when the target industries together have at least this share of the model's own (uncalibrated) softmax.
# Thresholds picked by cross-validation on the training data (mostly one marketplace with few beauty rows) did worse
# on the held-out folds than this, and so did 0.5 on the calibrated mass: calibration flattens the probabilities
# (temperature ~1.3), and "more likely than not" maximizes accuracy, not F1 on a class of 7% of rows (cross-validated
# relevance F1 0.812 instead of 0.866). The call stays; its calibrated confidence says how often such calls are right.
RELEVANCE_THRESHOLD = 0.5
_HASH_BUCKETS = 1 << 20  # a power of two: a bit mask takes the remainder
_CALIBRATION_FOLDS = 3


@dataclass(frozen=True)
class ClassifierConfig:
    """Which views and which head a model uses (``compare_classifiers`` varies these; the defaults ship)."""

    head: str = "lr"  # lr | svm | cnb | lr+cnb
    c: float = 10.0  # inverse regularization of lr / svm
    class_weight: str | None = None  # None | "balanced"
    title_chars: bool = True  # character 2-5 n-grams of the title
    description_chars: bool = False  # character 2-5 n-grams of the description
    text_tokens: bool = False  # bag of WordPiece tokens of the whole text (a word-level view)
    embed_text: bool = True
    embed_title: bool = True
    lexicon: bool = True
    # Which texts the lexicon counts read (title, text or title+text). Counts over long templated descriptions
    # taught a model of one marketplace weights that did not carry to the other (cross-site 0.41 -> 0.52 without).
    lexicon_views: str = "title"
    calibrate: bool = True
    # Characters of title + description the text views read: long templated descriptions (go4world) add little
    # past their first lines (300 scored as 600 did), and this caps the cost per RFQ.
    text_cap: int = 300


DEFAULT_CONFIG = ClassifierConfig()


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


def _training_fingerprint(examples: Sequence[LabeledExample], config: ClassifierConfig = DEFAULT_CONFIG) -> str:
    digest = hashlib.sha256(CLASSIFIER_CODE_VERSION.encode())
    digest.update(STATIC_NAME.encode())
    digest.update(repr(sorted(asdict(config).items())).encode())  # the shipped defaults too: changing one retrains
    for example in examples:
        digest.update(f"{example.item.id}|{example.item.text()}|{example.industry}|{example.relevant}\n".encode())
    digest.update(repr(sorted(lexicon.LEXICON.items())).encode())
    digest.update(repr(taxonomy_examples()).encode())
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class _Batch:
    """The text fields of a batch of RFQs, as the features read them."""

    titles: list[str]
    descriptions: list[str]  # whitespace-folded, capped so that title + ". " + description fits the text cap

    @classmethod
    def of(cls, items: Iterable[RfqText], cap: int = DEFAULT_CONFIG.text_cap) -> _Batch:
        titles, descriptions = [], []
        for item in items:
            title = item.title.strip()
            room = max(cap - len(title) - 2, 0)
            # Fold whitespace on a generous prefix only: descriptions run to thousands of characters.
            description = " ".join(item.description[: 2 * room + 200].split())[:room] if room else ""
            titles.append(title)
            descriptions.append(description)
        return cls(titles, descriptions)

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> _Batch:
        return cls([t.strip() for t in texts], [""] * len(texts))

    def texts(self) -> list[str]:
        """Title and description as one string, as :meth:`RfqText.text` builds it (capped)."""
        return [f"{t}. {d}" if d else t for t, d in zip(self.titles, self.descriptions, strict=True)]

    def __len__(self) -> int:
        return len(self.titles)


def _hashed_char_ngrams(strings: Sequence[str], low: int = 2, high: int = 5):  # -> scipy.sparse.csr_matrix
    """Counts of the character n-grams inside words (as sklearn's ``char_wb``), hashed to ``_HASH_BUCKETS``.

    The whole batch is one array of code points and each n-gram length one vectorized rolling hash, instead of a
    Python loop per string and n-gram (sklearn's analyzer), which cost most of the classifier's time.
    """
    from scipy import sparse

    folded = [" ".join(s.lower().split()) for s in strings]
    padded = [f" {f} " if f else "" for f in folded]
    lengths = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
    codes = np.frombuffer("\0".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc = np.repeat(np.arange(len(padded), dtype=np.int64), lengths + 1)[: len(codes)]
    separators = np.concatenate(([0], np.cumsum(codes == 0)))
    spaces = np.concatenate(([0], np.cumsum(codes == 32)))
    rows, columns = [], []
    base = codes.copy()  # polynomial hash of the n-gram starting at each position, extended one length at a time
    for n in range(1, high + 1):
        count = len(codes) - n + 1
        if count <= 0:
            break
        if n > 1:
            base = base[:count] * np.uint64(1_000_003) + codes[n - 1 : n - 1 + count]
        if n < low:
            continue
        hashed = base + np.uint64((n * 0x9E3779B97F4A7C15) % (1 << 64))  # the length, so n-grams of two lengths differ
        hashed ^= hashed >> np.uint64(29)
        hashed *= np.uint64(0xBF58476D1CE4E5B9)
        hashed ^= hashed >> np.uint64(32)
        start = np.arange(count)
        # No separator inside, and a space only at either end (n-grams do not cross words).
        valid = separators[start + n] == separators[start]
        if n > 2:
            valid &= spaces[start + n - 1] == spaces[start + 1]
        rows.append(doc[:count][valid])
        columns.append((hashed[valid] & np.uint64(_HASH_BUCKETS - 1)).astype(np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    column = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
    matrix = sparse.csr_matrix(
        (np.ones(len(row), dtype=np.float32), (row, column)), shape=(len(strings), _HASH_BUCKETS)
    )
    matrix.sum_duplicates()
    return matrix


class _Tfidf:
    """Sublinear TF-IDF over a fixed column space (hash buckets or token ids), keeping columns seen in two
    training rows or more (a column seen once cannot generalize and only widens the model)."""

    def __init__(self, min_df: int = 2) -> None:
        self.min_df = min_df
        self.columns = np.zeros(0, dtype=np.int64)  # kept source columns, ascending
        self.idf = np.zeros(0, dtype=np.float32)

    def fit(self, counts) -> _Tfidf:  # counts: scipy.sparse.csr_matrix
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.columns = np.flatnonzero(df >= self.min_df)
        rows = counts.shape[0]
        self.idf = (np.log((1 + rows) / (1 + df[self.columns])) + 1).astype(np.float32)
        return self

    def transform(self, counts):  # -> scipy.sparse.csr_matrix
        from scipy import sparse

        lookup = np.full(counts.shape[1], -1, dtype=np.int64)  # source column -> kept column
        lookup[self.columns] = np.arange(len(self.columns))
        position = lookup[counts.indices]
        keep = position >= 0
        row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))[keep]
        column = position[keep]
        values = (1 + np.log(counts.data[keep])) * self.idf[column]
        matrix = sparse.csr_matrix((values, (row, column)), shape=(counts.shape[0], len(self.columns)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags((1 / norms).astype(np.float32)) @ matrix, dtype=np.float32)


class _Featurizer:
    """Turns RFQs into the model's feature matrix (sparse n-grams next to dense embedding and lexicon columns)."""

    def __init__(self, embedder: str = "minilm-static", config: ClassifierConfig = DEFAULT_CONFIG) -> None:
        self.embedder = embedder
        self.config = config
        self.title_chars = _Tfidf()
        self.description_chars = _Tfidf()
        self.text_tokens = _Tfidf()
        self.nonnegative = np.zeros(0, dtype=bool)  # columns a naive Bayes head may read

    def fit(self, batch: _Batch) -> _Featurizer:
        """Fit the TF-IDF vocabularies on the training batch."""
        if self.config.title_chars:
            self.title_chars.fit(_hashed_char_ngrams(batch.titles))
        if self.config.description_chars:
            self.description_chars.fit(_hashed_char_ngrams(batch.descriptions))
        if self.config.text_tokens:
            self.text_tokens.fit(self._token_bags(batch)[1])
        return self

    def _token_bags(self, batch: _Batch):  # -> (title bag, text bag) as scipy.sparse.csr_matrix
        """Bags of WordPiece ids of the titles and of the whole texts, from one tokenizer pass.

        The tokenizer splits at whitespace and punctuation, so "title. description" tokenizes as the title's tokens,
        ".", then the description's: each part is encoded once and the text's bag is the sum.
        """
        from scipy import sparse

        tokenizer = self._static().tokenizer  # the embedder's own tokenizer and vocabulary
        vocabulary = self._static().table.shape[0]

        def bag(strings: list[str]):  # -> scipy.sparse.csr_matrix
            # Ids only: the fast variant skips the character offsets nothing here reads (same ids, ~30% less time).
            encodings = tokenizer.encode_batch_fast(strings, add_special_tokens=False)
            ids = [e.ids for e in encodings]
            indptr = np.zeros(len(ids) + 1, dtype=np.int64)
            np.cumsum([len(i) for i in ids], out=indptr[1:])
            flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(indptr[-1]))
            return sparse.csr_matrix((np.ones(len(flat), dtype=np.float32), flat, indptr), shape=(len(ids), vocabulary))

        with_description = [i for i, d in enumerate(batch.descriptions) if d]
        # One tokenizer call for titles and descriptions: its worker threads share one batch (~20% faster than two).
        both = bag(batch.titles + [batch.descriptions[i] for i in with_description])
        titles, descriptions = both[: len(batch)], both[len(batch) :]
        if not with_description:
            return titles, titles
        period = tokenizer.token_to_id(".")
        extra = sparse.csr_matrix(
            (
                np.ones(descriptions.nnz + len(with_description), dtype=np.float32),
                (
                    np.concatenate([np.repeat(with_description, np.diff(descriptions.indptr)), with_description]),
                    np.concatenate([descriptions.indices, np.full(len(with_description), period)]),
                ),
            ),
            shape=titles.shape,
        )
        return titles, (titles + extra).tocsr()

    def _static(self) -> StaticMiniLM:
        embedder = embedder_named(self.embedder)
        assert isinstance(embedder, StaticMiniLM)
        return embedder

    def _embeddings(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray, object]:
        """(title vectors, text vectors, text token bag or None) of the batch."""
        embedder = embedder_named(self.embedder)
        if not isinstance(embedder, StaticMiniLM):
            return embedder.embed(batch.titles), embedder.embed(batch.texts()), None
        titles, texts = self._token_bags(batch)
        table = embedder.table
        # What StaticMiniLM.embed computes (a normalized sum of token rows), as one sparse product per view; its
        # 256-token truncation does not bite under a cap of a few hundred characters (only a title of more than
        # ~800 characters would be read past it, by the whole-text view).
        return _unit_rows(np.asarray(titles @ table)), _unit_rows(np.asarray(texts @ table)), texts

    def blocks(self, batch: _Batch) -> list:
        """The feature blocks of a batch, left to right (sparse TF-IDF blocks, dense embedding and lexicon blocks).

        Scoring multiplies each block by its slice of the weights: stacking dense columns into one sparse matrix
        cost more than the rest of the model.
        """
        config = self.config
        blocks: list = []
        nonnegative: list[np.ndarray] = []

        def add(block, positive: bool) -> None:
            blocks.append(block)
            nonnegative.append(np.full(block.shape[1], positive))

        if config.title_chars:
            add(self.title_chars.transform(_hashed_char_ngrams(batch.titles)), True)
        if config.description_chars:
            add(self.description_chars.transform(_hashed_char_ngrams(batch.descriptions)), True)
        token_bag = None
        if config.embed_text or config.embed_title:
            title_vectors, text_vectors, token_bag = self._embeddings(batch)
            if config.embed_text:
                add(text_vectors, False)
            if config.embed_title:
                add(title_vectors, False)
        if config.text_tokens:
            if token_bag is None:
                token_bag = self._token_bags(batch)[1]
            add(self.text_tokens.transform(token_bag), True)
        if config.lexicon:
            title_counts = lexicon.lexicon_counts(batch.titles)
            views = {"title": 2.0 * np.log1p(title_counts)}
            if "text" in config.lexicon_views:
                text_counts = title_counts.copy()
                described = [i for i, d in enumerate(batch.descriptions) if d]
                if described:
                    # The text is the title then the description: its counts are the sum (no term spans the ". ").
                    text_counts[described] += lexicon.lexicon_counts([batch.descriptions[i] for i in described])
                views["text"] = np.log1p(text_counts)
            add(np.hstack([views[v] for v in config.lexicon_views.split("+")]).astype(np.float32), True)
        self.nonnegative = np.concatenate(nonnegative)
        return blocks

    def transform(self, batch: _Batch):  # -> scipy.sparse.csr_matrix
        """The (rows, features) matrix of a batch (the blocks side by side)."""
        from scipy import sparse

        return sparse.hstack(
            [b if sparse.issparse(b) else sparse.csr_matrix(b) for b in self.blocks(batch)],
            format="csr",
            dtype=np.float32,
        )


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


@dataclass
class _LinearHead:
    """Scores = X @ weights.T + bias for each member; several members are averaged as probabilities."""

    weights: list[np.ndarray]  # each (classes, features)
    biases: list[np.ndarray]  # each (classes,)

    def scores(self, blocks: list) -> np.ndarray:
        """(rows, classes) log-probability-like scores (before the temperature) of a batch's feature blocks."""
        members = []
        for w, b in zip(self.weights, self.biases, strict=True):
            total, start = np.zeros((blocks[0].shape[0], len(b)), dtype=np.float32) + b, 0
            for block in blocks:
                total += np.asarray(block @ w[:, start : start + block.shape[1]].T)
                start += block.shape[1]
            members.append(total)
        if len(members) == 1:
            return members[0]
        mean = np.mean([_softmax(m) for m in members], axis=0)
        return np.log(np.maximum(mean, 1e-12))


def _fit_head(
    config: ClassifierConfig, features, labels: np.ndarray, weights: np.ndarray, classes: Sequence[str],
    nonnegative: np.ndarray,
) -> _LinearHead:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    out_w: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    for head in config.head.split("+"):
        if head == "lr":
            model = LogisticRegression(C=config.c, max_iter=3000, class_weight=config.class_weight)
            model.fit(features, labels, sample_weight=weights)
            w, b = model.coef_, model.intercept_
        elif head == "svm":
            model = LinearSVC(C=config.c / 10, class_weight=config.class_weight)
            model.fit(features, labels, sample_weight=weights)
            w, b = model.coef_, model.intercept_
        elif head == "cnb":
            # Naive Bayes needs counts-like (non-negative) columns: the embeddings are left out of it.
            columns = np.flatnonzero(nonnegative)
            model = ComplementNB(alpha=0.3)
            model.fit(features[:, columns], labels, sample_weight=weights)
            w = np.zeros((len(classes), features.shape[1]))
            w[:, columns] = model.feature_log_prob_
            b = np.zeros(len(classes))
        else:
            raise ValueError(f"unknown head {head!r}")
        assert tuple(model.classes_) == tuple(classes)
        out_w.append(np.asarray(w, dtype=np.float32))
        out_b.append(np.asarray(b, dtype=np.float32))
    return _LinearHead(out_w, out_b)


@dataclass
class TrainedModel:
    """A fitted industry model, its calibration temperature and the relevance threshold chosen for it."""

    featurizer: _Featurizer
    model: _LinearHead
    classes: tuple[str, ...]
    relevance_threshold: float
    version: str
    temperature: float = 1.0
    calibration: dict[str, float] = field(default_factory=dict)  # out-of-fold ECE before/after, for reports

    def scores(self, items: Sequence[RfqText]) -> np.ndarray:
        """(items, classes) uncalibrated scores."""
        return self.model.scores(self.featurizer.blocks(_Batch.of(items, self.featurizer.config.text_cap)))

    def probabilities(self, items: Sequence[RfqText]) -> np.ndarray:
        """(items, classes) calibrated class probabilities."""
        return _softmax(self.scores(items) / self.temperature)


def _training_set(
    examples: Sequence[LabeledExample], cap: int = DEFAULT_CONFIG.text_cap
) -> tuple[_Batch, np.ndarray, np.ndarray]:
    """Batch, labels and weights: every example (any dataset, "human" and "claude" labels too) weighs 1, and the
    label guide's examples are appended."""
    batch = _Batch.of((e.item for e in examples), cap)
    guide = taxonomy_examples()
    guide_batch = _Batch.of_texts([text for text, _ in guide])
    batch = _Batch(batch.titles + guide_batch.titles, batch.descriptions + guide_batch.descriptions)
    labels = np.array([e.industry for e in examples] + [industry for _, industry in guide])
    return batch, labels, np.ones(len(labels))


def _fit(
    batch: _Batch, labels: np.ndarray, weights: np.ndarray, embedder: str, config: ClassifierConfig
) -> tuple[_Featurizer, _LinearHead, tuple[str, ...]]:
    featurizer = _Featurizer(embedder, config).fit(batch)
    features = featurizer.transform(batch)
    classes = tuple(sorted(set(labels.tolist())))
    head = _fit_head(config, features, labels, weights, classes, featurizer.nonnegative)
    return featurizer, head, classes


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature minimizing the negative log-likelihood of ``truth`` (column indices) under
    softmax(scores / T): one parameter, so it cannot overfit a few hundred rows and keeps the ranking."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        scaled = scores / np.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float(np.mean(log_norm - scaled[np.arange(len(truth)), truth]))

    return float(np.exp(minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded").x))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the row-weighted mean gap between confidence and accuracy over equal-width confidence bins."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if not len(confidence):
        return 0.0
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            gap += mask.sum() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(gap / len(confidence))


def _out_of_fold_scores(
    examples: Sequence[LabeledExample], embedder: str, config: ClassifierConfig, classes: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, true column) of every example from a model trained without its fold (the guide's examples stay in
    every fold's training set: they are what the model always knows)."""
    from sklearn.model_selection import KFold

    scores = np.zeros((len(examples), len(classes)))
    folds = KFold(_CALIBRATION_FOLDS, shuffle=True, random_state=0).split(np.arange(len(examples)))
    for train_idx, test_idx in folds:
        batch, labels, weights = _training_set([examples[i] for i in train_idx], config.text_cap)
        featurizer, head, fold_classes = _fit(batch, labels, weights, embedder, config)
        fold_scores = head.scores(featurizer.blocks(_Batch.of((examples[i].item for i in test_idx), config.text_cap)))
        # A fold can miss a rare class: it gets a score far below the others.
        full = np.full((len(test_idx), len(classes)), fold_scores.min() - 10.0)
        full[:, [classes.index(c) for c in fold_classes]] = fold_scores
        scores[test_idx] = full
    truth = np.array([classes.index(e.industry) for e in examples])
    return scores, truth


def train(
    examples: Sequence[LabeledExample] | None = None,
    *,
    relevance_threshold: float = RELEVANCE_THRESHOLD,
    embedder: str = "minilm-static",
    config: ClassifierConfig = DEFAULT_CONFIG,
) -> TrainedModel:
    """Fit the industry model on ``examples`` (default: every labeled example; any dataset, including "human" and
    "claude" labels of stored RFQs, each weighing 1) plus the label guide's examples, then fit its temperature on
    out-of-fold predictions of ``examples``."""
    import sklearn.linear_model  # noqa: F401 - loaded before the limit below, which covers loaded libraries only
    from threadpoolctl import threadpool_limits

    examples = list(labeled_examples() if examples is None else examples)
    # One BLAS/OpenMP thread: on ~1,300 rows the solver's threads mostly wait on each other, and a second process
    # on the 2 cores made a training spend three times the CPU (18 s instead of 6.5) and as much longer.
    with threadpool_limits(limits=1):
        featurizer, head, classes = _fit(*_training_set(examples, config.text_cap), embedder, config)
        temperature, calibration = 1.0, {}
        if config.calibrate and len(examples) >= 5 * _CALIBRATION_FOLDS:
            scores, truth = _out_of_fold_scores(examples, embedder, config, classes)
            temperature = fit_temperature(scores, truth)
            before, after = _softmax(scores.copy()), _softmax(scores / temperature)
            correct = before.argmax(axis=1) == truth
            calibration = {
                "ece_before": expected_calibration_error(before.max(axis=1), correct),
                "ece_after": expected_calibration_error(after.max(axis=1), correct),
            }
    return TrainedModel(
        featurizer=featurizer,
        model=head,
        classes=classes,
        relevance_threshold=relevance_threshold,
        version=f"{CLASSIFIER_CODE_VERSION}-{_training_fingerprint(examples, config)}",
        temperature=temperature,
        calibration=calibration,
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
_TWO_LETTERS = re.compile(r"[^\W\d_][\W\d_]*[^\W\d_]")  # the first two letters, anything between
_LINK = re.compile(r"(https?://|www\.)\S+")


def _is_spam(text: str) -> bool:
    # Substring tests: a regex alternation scans every position once per alternative.
    return (
        "$$" in text
        or "!!!" in text
        or "casino" in text
        or "crypto" in text
        or "forex" in text
        or ("loan offer" in text)
    )


def _may_be_supplier(lowered: str) -> bool:
    # Every phrase of _SUPPLIER contains one of these: the substring tests skip the regex for most texts.
    return (
        "we " in lowered
        or "our " in lowered
        or "er of" in lowered
        or "for export" in lowered
        or ("stock available" in lowered or "contact us for" in lowered)
    )  # "er of": supplier/manufacturer/exporter of


def intent_of(item: RfqText) -> str:
    """``buy_request``, ``supplier_advert`` or ``spam_or_junk`` by rules."""
    title = " ".join(item.title.split())
    if not title or not _TWO_LETTERS.search(title) or _JUNK.match(title):
        return "spam_or_junk"
    text = f"{title} {item.description}" if item.description else title
    if _LINK.search(title) or _is_spam(text):
        return "spam_or_junk"
    if _may_be_supplier(text.lower()) and _SUPPLIER.search(text) and not _BUYER.search(title):
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
        """Labels for each item, in order. ``details`` carries ``confidence`` (calibrated probability that the
        industry is right), ``relevance_confidence`` (that the relevance call is right) and ``target_mass``."""
        if not items:
            return []
        scores = self._trained.scores(items)
        probabilities = _softmax(scores / self._trained.temperature)
        classes = self._trained.classes
        is_target = np.array([c in self.targets for c in classes], dtype=bool)
        masses = probabilities[:, is_target].sum(axis=1)
        # The decision on the uncalibrated mass (see RELEVANCE_THRESHOLD); the temperature keeps each row's order of
        # classes, so the industry chosen below is the same on either scale.
        raw_masses = _softmax(scores)[:, is_target].sum(axis=1)
        relevant = (raw_masses >= self._trained.relevance_threshold) & is_target.any()
        # Relevant rows take the best target industry, the others the best other one (a target industry below the
        # threshold is not the answer).
        best = np.where(
            relevant,
            np.where(is_target, probabilities, -1.0).argmax(axis=1),
            np.where(is_target, -1.0, probabilities).argmax(axis=1),
        )
        confidence = np.round(probabilities[np.arange(len(best)), best].astype(float), 3).tolist()
        relevance_confidence = np.round(np.where(relevant, masses, 1.0 - masses).astype(float), 3).tolist()
        target_mass = np.round(masses.astype(float), 3).tolist()
        names = [classes[i] for i in best.tolist()]
        version = self.model_version
        return [
            Labels(
                id=item.id,
                industry=name,
                relevant=is_relevant,
                intent=intent_of(item),
                quality=quality_score(item),
                provider=PROVIDER,
                model_version=version,
                details={"confidence": conf, "relevance_confidence": rel_conf, "target_mass": mass},
            )
            for item, name, is_relevant, conf, rel_conf, mass in zip(
                items, names, relevant.tolist(), confidence, relevance_confidence, target_mass, strict=True
            )
        ]


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
