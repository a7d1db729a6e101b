"""Embeddings (the bundled all-MiniLM-L6-v2, offline) and token counts."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import DEFAULT_MODEL, Embedder, cached_embedder, default_model_path, resolve_model
from ingest.errors import IngestError
from ingest.tokens import APPROX_NAME, TokenCounter, default_tokenizer

TINY_JAMBA = Path(__file__).resolve().parents[2] / "data" / "tiny-jamba"


@pytest.fixture(scope="module")
def embedder():
    return cached_embedder()


def test_default_model_is_the_bundled_minilm_loaded_offline(embedder):
    assert embedder.name == DEFAULT_MODEL
    assert embedder.dim == 384
    assert embedder.max_chunk_tokens == 254  # MiniLM's 256-token window less [CLS] and [SEP]
    assert resolve_model(str(default_model_path())) == (DEFAULT_MODEL, str(default_model_path()))
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2")[0] == DEFAULT_MODEL


def test_vectors_are_normalized_float32_and_meaningful(embedder):
    texts = [
        "Metformin 1000 mg twice daily for type 2 diabetes.",
        "The patient takes metformin for diabetes mellitus.",
        "The kernel panicked while mounting the ext4 filesystem.",
    ]
    vecs = embedder.encode(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert embedder.encode([]).shape == (0, 384)
    # input order is kept although encoding sorts by length internally
    again = embedder.encode(texts[::-1])
    assert np.allclose(again[::-1], vecs, atol=1e-3)


def test_bfloat16_speedup_keeps_vectors_equivalent_to_float32(embedder):
    exact = copy.copy(embedder)  # same loaded model, run without autocast
    exact.precision = "float32"
    texts = ["Blood pressure 142/88 mmHg; lisinopril increased to 20 mg daily.", "HbA1c 8.1% in March."]
    cos = np.sum(exact.encode(texts) * embedder.encode(texts), axis=1)
    assert cos.min() > 0.999


def test_token_starts_match_the_embedders_tokenizer(embedder):
    text = "Patient: Jane Doe, 63 y/o. Started empagliflozin 10 mg — eGFR 58."
    starts = embedder.token_starts(text)
    assert len(starts) == len(embedder.model.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert np.all(np.diff(starts) >= 0) and starts[0] == 0
    assert text[starts[1]:].startswith(":")


def test_a_missing_model_is_a_clear_error():
    with pytest.raises(IngestError, match="cannot load embedding model"):
        Embedder("/nonexistent/model-folder-xyz")


def test_token_counter_approximation_is_documented_and_flagged():
    counter = TokenCounter(None)
    assert counter.approximate and counter.name == APPROX_NAME
    assert counter.count("x" * 10) == math.ceil(10 / 4)
    with pytest.raises(IngestError, match="cannot load tokenizer"):
        TokenCounter("/nonexistent/tokenizer-folder")


def test_default_tokenizer_prefers_flag_then_env_then_existing_folder(tmp_path):
    assert default_tokenizer("flag", "env") == "flag"
    assert default_tokenizer(None, "env") == "env"
    assert default_tokenizer(None, None, fallback=str(tmp_path)) == str(tmp_path)
    assert default_tokenizer(None, None, fallback=str(tmp_path / "missing")) is None


@pytest.mark.skipif(not (TINY_JAMBA / "tokenizer.json").is_file(), reason="tiny Jamba not built")
def test_token_counter_uses_the_models_tokenizer():
    from tokenizers import Tokenizer

    counter = TokenCounter(str(TINY_JAMBA))
    assert not counter.approximate and counter.name == str(TINY_JAMBA)
    text = "Lisinopril 20 mg daily. Follow up in 3 months.\n" * 50
    expected = len(Tokenizer.from_file(str(TINY_JAMBA / "tokenizer.json")).encode(
        text, add_special_tokens=False).ids)
    assert counter.count(text) == expected > 0
