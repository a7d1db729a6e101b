"""Build a tiny random-weights Jamba checkpoint in Hugging Face format, for tests and the offline demo.

No model hub is reachable on the development machines, so tests load this folder through exactly the
code path a published checkpoint takes: config.json (``model_type: "jamba"``), sharded safetensors with
an index, and a byte-level BPE tokenizer trained on the sample corpus, with a chat template. The
weights are random, so ``config.json`` carries ``docqa_random_weights: true`` and everything produced
with the model must say so. Same seed and corpus give byte-identical files.

    python -m model.tiny --corpus data/samples --out data/tiny-jamba [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from model.config import JambaConfig
from model.layout import checkpoint_shapes
from model.weights import init_tensor_, tensor_seed

log = logging.getLogger(__name__)

PAD, BOS, EOS = "<|pad|>", "<|bos|>", "<|eos|>"
ROLES = ("system", "user", "assistant")
# Ids 0, 1, 2 are pad, bos, eos, matching JambaConfig's defaults; role markers follow.
SPECIAL_TOKENS = [PAD, BOS, EOS] + [f"<|{r}|>" for r in ROLES]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unsupported chat role: ' + message['role']) }}"
    "{%- endif %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|assistant|>\n' }}{%- endif %}"
)

# The tiny model's shape: the real layer pattern (attention at period 4 offset 2 -> layers 2 and 6;
# MoE with 4 experts, top-2, in every odd layer; dense MLP elsewhere) at a size that runs in
# milliseconds per token on a laptop CPU.
TINY_CONFIG = JambaConfig(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=8,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_experts=4,
    num_experts_per_tok=2,
    expert_layer_period=2,
    expert_layer_offset=1,
    attn_layer_period=4,
    attn_layer_offset=2,
    mamba_d_state=16,
    mamba_d_conv=4,
    mamba_expand=2,
    max_position_embeddings=262144,
    docqa_random_weights=True,
)

# Cap on tokenizer training text (characters): enough for a useful vocabulary, trains in seconds.
MAX_TRAIN_CHARS = 8_000_000

BUILTIN_TEXT = """\
Patient history. 2019-03-14: Type 2 diabetes mellitus diagnosed; HbA1c 8.1%. Started metformin 500 mg
twice daily. 2020-07-02: Blood pressure 148/92 mmHg; lisinopril 10 mg once daily added. 2021-11-20:
Creatinine 1.4 mg/dL, eGFR 52 mL/min/1.73m2; metformin dose reviewed. Allergies: penicillin (rash).
2022-05-09: Admitted with community-acquired pneumonia; treated with ceftriaxone and azithromycin.
Discharge summary: afebrile, oxygen saturation 96% on room air. Follow up with primary care in two weeks.
Guideline: metformin is first-line therapy for type 2 diabetes unless contraindicated. Reduce the dose
when eGFR is between 30 and 45; stop when eGFR falls below 30. Monitor vitamin B12 on long-term use.
def load_weights(model, folder, device, dtype):
    for name, tensor in read_shards(folder):
        model.get_parameter(name).copy_(tensor.to(device=device, dtype=dtype))
    return model
The quarterly report shows revenue of 4.2 million, up 12 percent from the previous year, while costs
rose 7 percent. The board approved the plan on Monday. Questions? Answers cite the documents [P0001].
"""


# ---- tokenizer --------------------------------------------------------------------------------------
def corpus_texts(corpus: Path | None) -> list[str]:
    """The training text: every *.md and *.txt under ``corpus`` in sorted path order, or a built-in text."""
    if corpus is None:
        return [BUILTIN_TEXT]
    if not corpus.is_dir():
        raise FileNotFoundError(
            f"{corpus}: corpus folder not found (generate one with `python -m ingest.samples generate`)"
        )
    paths = sorted(p for p in corpus.rglob("*") if p.suffix in (".md", ".txt") and p.is_file())
    if not paths:
        raise ValueError(f"{corpus}: no .md or .txt files to train the tokenizer on")
    texts, total = [], 0
    for p in paths:
        text = p.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= MAX_TRAIN_CHARS:
            break
    return texts


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """A byte-level BPE: every byte has a token, so any text encodes without an unknown token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def tokenizer_config(max_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": PAD,
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }


# ---- weights ----------------------------------------------------------------------------------------
def random_state_dict(config: JambaConfig, seed: int) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint, each drawn from a generator seeded by (seed, tensor name)."""
    gen = torch.Generator()
    return {
        name: init_tensor_(name, torch.empty(shape), config, gen.manual_seed(tensor_seed(seed, name)))
        for name, shape in checkpoint_shapes(config).items()
    }


def shard(names: list[str], sizes: dict[str, int], n_shards: int) -> list[list[str]]:
    """Split tensors, in order, into ``n_shards`` runs of roughly equal bytes."""
    target = sum(sizes.values()) / n_shards
    shards: list[list[str]] = [[]]
    filled = 0
    for name in names:
        if filled >= target * len(shards) and len(shards) < n_shards:
            shards.append([])
        shards[-1].append(name)
        filled += sizes[name]
    return shards


def write_weights(folder: Path, tensors: dict[str, torch.Tensor], n_shards: int) -> None:
    sizes = {k: t.numel() * t.element_size() for k, t in tensors.items()}
    groups = shard(list(tensors), sizes, n_shards)
    weight_map = {}
    for i, group in enumerate(groups, 1):
        fname = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        save_file({k: tensors[k].contiguous() for k in group}, str(folder / fname), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(group, fname))
    index = {"metadata": {"total_size": sum(sizes.values())}, "weight_map": dict(sorted(weight_map.items()))}
    _write_json(folder / "model.safetensors.index.json", index)


# ---- the checkpoint folder --------------------------------------------------------------------------
def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


README = """\
# Tiny Jamba: RANDOM WEIGHTS, for tests and the offline demo

Built by `python -m model.tiny` (seed {seed}). The architecture is Jamba's (attention and Mamba layers,
MoE and dense feed-forwards) at a toy size; the weights are random, so its text is meaningless.
Everything produced with it must be labelled as coming from a random-weights test model.
"""


def _replaceable(out: Path) -> bool:
    """Only an empty folder or one this builder wrote may be replaced: never a user's real checkpoint."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    if not any(out.iterdir()):
        return True
    try:
        return bool(json.loads((out / "config.json").read_text()).get("docqa_random_weights"))
    except (OSError, json.JSONDecodeError):
        return False


def build_tiny_checkpoint(
    out: Path,
    corpus: Path | None = None,
    seed: int = 0,
    vocab_size: int = 4096,
    n_shards: int = 2,
    dtype: torch.dtype = torch.float32,
    **overrides,
) -> Path:
    """Write a random-weights Jamba checkpoint folder to ``out`` and return it.

    ``overrides`` are JambaConfig fields (``hidden_size=128``, ``num_experts=1``, ...) applied to
    ``TINY_CONFIG``; ``vocab_size`` is an upper bound, the config gets the trained tokenizer's size.
    The folder is assembled next to ``out`` and renamed into place, so a killed build leaves no
    half-written checkpoint.
    """
    out = Path(out)
    if not _replaceable(out):
        raise FileExistsError(f"{out}: is not a tiny checkpoint built by model.tiny; not replacing it")
    tok = train_tokenizer(corpus_texts(corpus), vocab_size)
    config = replace(TINY_CONFIG, vocab_size=tok.get_vocab_size(), docqa_random_weights=True, **overrides)
    tensors = {k: v.to(dtype) for k, v in random_state_dict(config, seed).items()}

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_json(tmp / "config.json", {**config.to_dict(), "dtype": str(dtype).removeprefix("torch.")})
        _write_json(
            tmp / "generation_config.json",
            {
                "bos_token_id": config.bos_token_id,
                "eos_token_id": config.eos_token_id,
                "pad_token_id": config.pad_token_id,
            },
        )
        tok.save(str(tmp / "tokenizer.json"))
        _write_json(tmp / "tokenizer_config.json", tokenizer_config(config.max_position_embeddings))
        _write_json(tmp / "special_tokens_map.json", {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD})
        (tmp / "README.md").write_text(README.format(seed=seed), encoding="utf-8")
        write_weights(tmp, tensors, n_shards)
        for f in tmp.iterdir():  # mkdtemp and safetensors create owner-only files; a checkpoint is shared
            f.chmod(0o644)
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("wrote tiny Jamba checkpoint to %s (%d tensors, vocab %d)", out, len(tensors), config.vocab_size)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model.tiny", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/tiny-jamba"), help="checkpoint folder to write")
    ap.add_argument("--corpus", type=Path, default=None, help="folder of .md/.txt to train the tokenizer on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab-size", type=int, default=4096, help="upper bound on the tokenizer's size")
    ap.add_argument("--hidden-size", type=int, default=TINY_CONFIG.hidden_size)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        build_tiny_checkpoint(
            args.out, args.corpus, seed=args.seed, vocab_size=args.vocab_size, hidden_size=args.hidden_size
        )
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {e}") from e


if __name__ == "__main__":
    main()
