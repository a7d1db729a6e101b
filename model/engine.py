"""The generation engine: chunked prefill, decode, sampling, streaming. It knows tokens, not documents.

A request is a list of prompt ids. The prompt goes through the network in chunks of ``prefill_chunk``
tokens (Mamba layers carry their state from chunk to chunk, attention layers append to a KV cache
preallocated for prompt + answer), so peak activation memory depends on the chunk, not on the prompt;
only the last position is projected to the vocabulary. Then one token at a time: sample, yield, feed
back. Everything that touches tensors runs under ``torch.inference_mode``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from model.cache import HybridCache
from model.config import JambaConfig
from model.jamba import JambaForCausalLM
from model.mamba import MambaMixer
from model.sampling import Sampler, SamplingParams
from model.streaming import stream_tokens_as_text

log = logging.getLogger(__name__)

ShouldStop = Callable[[], bool]


class ContextTooLong(ValueError):
    """The prompt, plus the room asked for the answer, does not fit the model's context window."""

    def __init__(self, n_prompt: int, max_tokens: int, limit: int) -> None:
        self.n_prompt, self.max_tokens, self.limit = n_prompt, max_tokens, limit
        super().__init__(
            f"prompt of {n_prompt:,} tokens plus up to {max_tokens:,} new tokens exceeds the model's "
            f"context window of {limit:,} tokens; shorten the prompt or lower max_tokens"
        )


class Engine:
    """One model, one tokenizer, one request at a time (batch 1 is the serving case)."""

    def __init__(self, model: JambaForCausalLM, tokenizer, config: JambaConfig, *, name: str = "jamba",
                 kernels: str | None = None) -> None:
        """``kernels`` names an ops backend for a model that has none yet (None: the dispatcher's pick)."""
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.name = name
        mixers = [m for m in model.modules() if isinstance(m, MambaMixer)]
        if any(m.ops is None for m in mixers):
            from model.ops.dispatch import get_ops

            model.use_ops(get_ops(kernels))
        self.ops = mixers[0].ops if mixers else None
        p = next(model.parameters())
        self.device, self.dtype = p.device, p.dtype

    @classmethod
    def load(cls, path_or_id: str | Path, device: str = "cpu", dtype: str | torch.dtype = "float32",
             kernels: str | None = None) -> Engine:
        """Load a checkpoint folder (or hub id): config, weights straight onto ``device``, tokenizer."""
        from model.weights import load_config, load_tokenizer, load_weights, resolve_checkpoint

        t0 = time.perf_counter()
        folder = resolve_checkpoint(path_or_id)
        config = load_config(folder)
        with torch.device("meta"):  # no memory until the loader puts each tensor on the device
            model = JambaForCausalLM(config)
        load_weights(model, folder, device, dtype)
        if config.tie_word_embeddings:  # the loader replaces Parameters; re-tie to the loaded one
            model.lm_head.weight = model.model.embed_tokens.weight
        engine = cls(model, load_tokenizer(folder), config, name=Path(str(path_or_id)).name, kernels=kernels)
        log.info("engine ready: %s on %s/%s, kernels %s, %.1f s", engine.name, engine.device, engine.dtype,
                 getattr(engine.ops, "name", None), time.perf_counter() - t0)
        return engine

    # ---- facts ------------------------------------------------------------------------------------
    @property
    def context_window(self) -> int:
        return int(self.config.max_position_embeddings)

    @property
    def random_weights(self) -> bool:
        return bool(self.config.docqa_random_weights)

    def encode_chat(self, messages: list[dict]) -> list[int]:
        """The checkpoint's chat template applied, generation prompt added. Control tokens inside message
        text (a document that contains "<|eos|>") are encoded as plain text, never as control tokens."""
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False,
            sanitize_control_tokens=True,
        )
        return list(ids)

    def check_fits(self, n_prompt: int, max_tokens: int) -> None:
        if n_prompt < 1:
            raise ValueError("the prompt is empty")
        if n_prompt + max_tokens > self.context_window:
            raise ContextTooLong(n_prompt, max_tokens, self.context_window)

    # ---- tensor work ------------------------------------------------------------------------------
    def new_cache(self, max_len: int, batch: int = 1) -> HybridCache:
        return HybridCache(self.config, batch, max_len, device=self.device, dtype=self.dtype)

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor | list[int], cache: HybridCache, chunk: int = 2048, start: int = 0,
                should_stop: ShouldStop | None = None) -> torch.Tensor | None:
        """Run prompt ids (B, T) (or a list: batch 1) at positions start.. through the network in chunks;
        return the last position's logits (B, V) in fp32. The cache then holds start + T tokens.
        ``should_stop`` is checked between chunks (a long prompt takes a while): None if it fired."""
        if chunk < 1:
            raise ValueError(f"prefill chunk must be >= 1, got {chunk}")
        ids = self._as_batch(ids)
        n = ids.shape[1]
        if n < 1:
            raise ValueError("nothing to prefill: the prompt is empty")
        logits = None
        for s in range(0, n, chunk):
            if should_stop is not None and s and should_stop():
                return None
            # | cached: 0 .. start+s | this chunk: start+s .. start+e | rest of prompt: .. start+n |
            e = min(n, s + chunk)
            logits = self.model(ids[:, s:e], cache, start + s, logits="last" if e == n else "none")
        return logits[:, -1].float()

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, cache: HybridCache, position: int) -> torch.Tensor:
        """One token per sequence (B,) at ``position``; returns the next logits (B, V) fp32."""
        return self.model(token.view(-1, 1), cache, position, logits="last")[:, -1].float()

    def _as_batch(self, ids: torch.Tensor | list[int]) -> torch.Tensor:
        t = ids if isinstance(ids, torch.Tensor) else torch.tensor(ids, dtype=torch.long)
        if t.dim() == 1:
            t = t[None]
        return t.to(self.device)

    # ---- generation -------------------------------------------------------------------------------
    def generate(self, prompt_ids: list[int], params: SamplingParams, prefill_chunk: int = 2048,
                 should_stop: ShouldStop | None = None) -> Iterator[int]:
        """Yield new token ids one by one. Stops at an EOS id (not yielded), after ``max_tokens``, or
        when ``should_stop()`` turns true (checked between prefill chunks and before each token). Stop
        strings are text-level: see ``stream_text``. The generator's return value is why it ended:
        "stop", "length" or "cancelled".
        """
        n = len(prompt_ids)
        self.check_fits(n, params.max_tokens)
        t0 = time.perf_counter()
        cache = self.new_cache(n + params.max_tokens)
        logits = self.prefill(prompt_ids, cache, prefill_chunk, should_stop=should_stop)
        if logits is None:
            return "cancelled"
        log.info("prefill: %d tokens in %.2f s (chunk %d)", n, time.perf_counter() - t0, prefill_chunk)
        return (yield from self.decode_from(logits, cache, n, params, should_stop))

    def decode_from(self, logits: torch.Tensor, cache: HybridCache, position: int, params: SamplingParams,
                    should_stop: ShouldStop | None = None) -> Iterator[int]:
        """Sample and decode from a filled cache: ``logits`` are the prediction after ``position``
        tokens (as ``prefill`` returns them). Yields token ids; returns the finish reason like
        ``generate``. Callers that prefill a cache their own way (a shared prefix reused across
        questions) generate through this one loop."""
        sampler = Sampler(params, self.device)
        eos = set(self.config.eos_token_ids)
        for i in range(params.max_tokens):
            if should_stop is not None and should_stop():
                return "cancelled"
            token = self._sample(sampler, logits)
            if int(token) in eos:
                return "stop"
            yield int(token)
            if i + 1 < params.max_tokens:
                logits = self.decode_step(token, cache, position + i)
        return "length"

    @torch.inference_mode()
    def _sample(self, sampler: Sampler, logits: torch.Tensor) -> torch.Tensor:
        return sampler(logits)

    def stream_text(self, prompt_ids: list[int], params: SamplingParams, prefill_chunk: int = 2048,
                    should_stop: ShouldStop | None = None) -> Iterator[str]:
        """Yield the answer as text deltas: never a broken UTF-8 character, never (part of) a stop string.
        Returns the finish reason like ``generate`` ("stop" also when a stop string ended it)."""
        tokens = self.generate(prompt_ids, params, prefill_chunk, should_stop)
        return (yield from stream_tokens_as_text(tokens, self.tokenizer, params.stop))
