"""The generalized distillation (``distill_static(teacher=...)``) and ``StaticEmbedder`` over the default teacher.

A whole vocabulary takes minutes to pass through the transformer, so the test teacher is all-MiniLM-L6-v2 behind
a pruned copy of its own WordPiece tokenizer: only the tokens of a few marketplace texts, renumbered, each mapped
back to the model's id when the teacher embeds it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rfq_pipeline.ai.embeddings import (
    STATIC_ARTIFACT,
    STATIC_NAME,
    StaticEmbedder,
    StaticMiniLM,
    Teacher,
    _model_dir,
    distill_static,
    minilm_teacher,
)

FIT_TEXTS = [
    "Wanted : Aloe Vera Gel 5 tons for cosmetic use",
    "Aloe vera gel 99% pure, 200 kg drums, private label",
    "Need organic aloe vera gel for skin care, 2 MT",
    "LED bulbs 9W E27 cool white, 10000 pieces",
    "LED bulb 12W B22 warm white 5000 pcs to Pakistan",
    "Buy LED light bulbs in bulk, 20000 units",
    "Basmati rice 1121 sella, 2 x 20ft FCL",
    "Long grain basmati rice, 25 kg bags, 50 tons",
    "Cashew nuts W240, 1 container, CIF Aqaba",
    "Cashewnuts W320 grade, 10 MT",
    "Retinol night cream 50 g jar, private label, 5000 pcs",
    "Anti wrinkle night cream with retinol 0.5%, OEM",
    "Kraft mailer boxes with logo printing, 10000 pcs",
    "Corrugated kraft shipping boxes, custom size",
    "Frozen chicken paws grade A, 5 containers",
    "Halal frozen chicken feet, 27 MT per container",
]
# Products no fitting text names: their static vectors come from distillation step 1 (each token alone) only.
UNSEEN = ["extra virgin olive oil", "cotton t-shirts", "shampoo and conditioner", "seamless steel pipes"]


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Teacher, Path]:
    """(teacher over a pruned tokenizer, distilled artifact): a few hundred tokens instead of 30,522."""
    from tokenizers import Tokenizer

    tmp = tmp_path_factory.mktemp("teacher")
    full_path = _model_dir() / "tokenizer.json"
    full = Tokenizer.from_file(str(full_path))
    vocab = full.get_vocab()
    texts = FIT_TEXTS + UNSEEN + ["aloe vera gel wanted, 5 tonnes", "LED lamps 10,000 pcs"]
    kept = {vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")}
    kept |= {i for e in full.encode_batch(texts, add_special_tokens=False) for i in e.ids}
    kept |= {i for token, i in vocab.items() if len(token) == 1 or (token.startswith("##") and len(token) == 3)}
    original = sorted(kept)
    id_to_token = {i: token for token, i in vocab.items()}
    spec = json.loads(full_path.read_text(encoding="utf-8"))
    spec["model"]["vocab"] = {id_to_token[i]: new for new, i in enumerate(original)}
    spec["added_tokens"] = []
    spec["post_processor"] = None
    tokenizer_path = tmp / "tokenizer.json"
    tokenizer_path.write_text(json.dumps(spec), encoding="utf-8")

    default = minilm_teacher()
    teacher = Teacher(
        name="test-minilm-pruned",
        tokenizer_path=tokenizer_path,
        dims=default.dims,
        embed_texts=default.embed_texts,
        embed_tokens=lambda ids: default.embed_tokens([original[i] for i in ids]),
        token_weight=default.token_weight,
    )
    artifact = distill_static(tmp / "static.npz", teacher=teacher, texts=FIT_TEXTS)
    return teacher, artifact


def test_distilled_static_embedder_gives_unit_vectors(pruned: tuple[Teacher, Path]) -> None:
    teacher, artifact = pruned
    static = StaticEmbedder(artifact, teacher.tokenizer_path, "test-static", teacher.dims)
    vectors = static.embed(["Aloe vera gel 1 ton", "LED bulbs", "cashew nuts W240"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_distilled_static_embedder_puts_similar_requests_closer(pruned: tuple[Teacher, Path]) -> None:
    teacher, artifact = pruned
    static = StaticEmbedder(artifact, teacher.tokenizer_path, "test-static", teacher.dims)
    aloe, aloe_again, bulbs = static.embed(
        ["aloe vera gel wanted, 5 tonnes", "Wanted : Aloe Vera Gel 5 tons", "LED lamps 10,000 pcs"]
    )
    assert float(aloe @ aloe_again) > float(aloe @ bulbs) + 0.1


def test_step_one_token_vectors_follow_the_teacher_on_unseen_products(pruned: tuple[Teacher, Path]) -> None:
    # No fitting text has these tokens: only the per-token teacher vectors place them. Random token vectors
    # would score about 0 here.
    teacher, artifact = pruned
    static = StaticEmbedder(artifact, teacher.tokenizer_path, "test-static", teacher.dims)
    cosine = static.embed(UNSEEN) @ teacher.embed_texts(UNSEEN).T
    assert list(np.argmax(cosine, axis=1)) == list(range(len(UNSEEN)))
    assert float(np.mean(np.diag(cosine))) > 0.3


def test_static_minilm_is_a_static_embedder_over_the_default_table() -> None:
    default = StaticMiniLM()
    generic = StaticEmbedder(STATIC_ARTIFACT, _model_dir() / "tokenizer.json", STATIC_NAME, 384)
    texts = ["Retinol night cream 50 g", "", "Kraft mailer boxes"]
    assert isinstance(default, StaticEmbedder) and (default.name, default.dims) == (STATIC_NAME, 384)
    np.testing.assert_array_equal(default.embed(texts), generic.embed(texts))
