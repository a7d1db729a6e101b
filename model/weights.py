"""Checkpoint loading: find the folder, read its safetensors shards, fill a model in place.

The loader wraps a plain model from outside: the model's modules are named like the checkpoint, and
whatever differs (a rename, the expert layout) is resolved here, in ``RENAMES`` and ``_expert_writes``.
Tensors are read one at a time from memory-mapped shards, straight onto the target device and then
cast to the target dtype there, so loading a 52B model never holds a full-precision copy on the CPU.
A model built on the ``meta`` device is materialized tensor by tensor on the target device.

Both expert layouts are understood, on either side: the per-expert one AI21 publishes and
transformers writes (``experts.{j}.gate_proj.weight`` (I, H), ``up_proj`` (I, H), ``down_proj`` (H, I))
and the fused one transformers uses in memory (``experts.gate_up_proj`` (E, 2I, H), gate rows first;
``experts.down_proj`` (E, H, I)); a model may also hold stacked ``experts.gate_proj`` (E, I, H).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from model.config import ConfigError, JambaConfig
from model.plan import dtype_of

log = logging.getLogger(__name__)

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"

# Checkpoint name -> model name, applied in order as (regex, replacement). Empty on purpose: the
# engine's modules carry the published names (model/jamba.py's table), so loading is a plain copy;
# the expert layout, which does differ between checkpoints, is handled by ``_expert_writes``.
RENAMES: tuple[tuple[re.Pattern, str], ...] = ()

_PER_EXPERT = re.compile(r"^(?P<p>.+\.experts)\.(?P<j>\d+)\.(?P<w>gate_proj|up_proj|down_proj)\.weight$")
_FUSED = re.compile(r"^(?P<p>.+\.experts)\.(?P<w>gate_up_proj|down_proj)$")


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message names the file or tensor and what is wrong."""


# ---- finding the checkpoint ---------------------------------------------------------------------
def _looks_like_hub_id(s: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", s)) and not s.startswith((".", "/", "~"))


def resolve_checkpoint(path_or_id: str | Path) -> Path:
    """A local checkpoint folder, or a hub id downloaded (or found in the hub cache) to a folder."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path}: is a file; a checkpoint is a folder holding config.json and weights")
    if not _looks_like_hub_id(str(path_or_id)):
        raise CheckpointError(f"{path}: checkpoint folder not found")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - transformers depends on huggingface_hub
        raise CheckpointError(
            f"{path_or_id}: not a local folder, and huggingface_hub is not installed"
        ) from e
    patterns = ["*.json", "*.safetensors", "tokenizer*", "*.jinja", "*.model"]
    try:
        return Path(snapshot_download(str(path_or_id), allow_patterns=patterns))
    except Exception as e:  # network, auth, offline mode, unknown repo: all mean "cannot get it"
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        why = "the hub is disabled (HF_HUB_OFFLINE=1) and it is not in the cache" if offline else str(e)
        raise CheckpointError(
            f"{path_or_id}: not a local folder and could not be fetched from the model hub: {why}. "
            "Download it on a machine with network access and pass the folder instead."
        ) from e


def load_config(folder: Path) -> JambaConfig:
    try:
        return JambaConfig.from_pretrained(folder)
    except ConfigError as e:
        raise CheckpointError(str(e)) from e


def load_tokenizer(folder: Path):
    """The checkpoint's tokenizer (transformers), which must carry a chat template."""
    from transformers import AutoTokenizer

    folder = Path(folder)
    if not any(
        (folder / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")
    ):
        raise CheckpointError(f"{folder}: no tokenizer files (tokenizer.json / tokenizer_config.json)")
    try:
        tok = AutoTokenizer.from_pretrained(folder)
    except Exception as e:  # transformers raises many types for unreadable tokenizer files
        raise CheckpointError(f"{folder}: tokenizer could not be loaded: {e}") from e
    if not getattr(tok, "chat_template", None):
        raise CheckpointError(f"{folder}: the tokenizer has no chat template")
    return tok


# ---- reading shards -----------------------------------------------------------------------------
def shard_map(folder: Path) -> dict[str, list[str]]:
    """Shard file name -> the tensor names it holds, from the index (or the single weights file)."""
    folder = Path(folder)
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{index}: unreadable safetensors index ({e})") from e
        shards: dict[str, list[str]] = {}
        for name, fname in weight_map.items():
            shards.setdefault(fname, []).append(name)
        for fname in shards:
            if not (folder / fname).is_file():
                raise CheckpointError(f"{folder / fname}: shard listed in {INDEX_FILE} is missing")
        return dict(sorted(shards.items()))
    single = folder / SINGLE_FILE
    if single.is_file():
        with _open(single, "cpu") as f:
            return {SINGLE_FILE: list(f.keys())}
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise CheckpointError(f"{folder}: only safetensors weights are supported (found PyTorch .bin files)")
    raise CheckpointError(f"{folder}: no weights ({INDEX_FILE} or {SINGLE_FILE})")


def _open(path: Path, device: str):
    try:
        return safe_open(str(path), framework="pt", device=device)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: corrupt or unreadable safetensors file ({e})") from e


# ---- mapping checkpoint tensors onto the model ----------------------------------------------------
@dataclass(frozen=True)
class _Write:
    """Copy ``source[src_index]`` into ``target[dst_index]`` (empty index = the whole tensor)."""

    target: str
    dst_index: tuple = ()
    src_index: tuple = ()


def rename(name: str) -> str:
    for pattern, repl in RENAMES:
        name = pattern.sub(repl, name)
    return name


def _expert_writes(name: str, shape: tuple[int, ...], targets: dict[str, torch.Size]) -> list[_Write] | None:
    """Writes that move one expert tensor into whichever expert layout the model holds; None if none."""
    if m := _PER_EXPERT.match(name):
        p, j, w = m["p"], int(m["j"]), m["w"]
        inter = shape[1] if w == "down_proj" else shape[0]
        if f"{p}.gate_up_proj" in targets and w != "down_proj":  # fused (E, 2I, H): gate rows, then up
            rows = slice(0, inter) if w == "gate_proj" else slice(inter, 2 * inter)
            return [_Write(f"{p}.gate_up_proj", (j, rows))]
        if f"{p}.{w}" in targets:  # stacked (E, ...): one slab per expert
            return [_Write(f"{p}.{w}", (j,))]
        return None
    if m := _FUSED.match(name):
        p, w, n_experts = m["p"], m["w"], shape[0]
        if w == "gate_up_proj":
            inter = shape[1] // 2
            halves = {"gate_proj": slice(0, inter), "up_proj": slice(inter, 2 * inter)}
            if f"{p}.gate_proj" in targets:
                return [_Write(f"{p}.{h}", (), (slice(None), rows)) for h, rows in halves.items()]
            return [
                _Write(f"{p}.{j}.{h}.weight", (), (j, rows))
                for j in range(n_experts)
                for h, rows in halves.items()
            ]
        return [_Write(f"{p}.{j}.down_proj.weight", (), (j,)) for j in range(n_experts)]
    return None


def plan_writes(
    sources: dict[str, tuple[int, ...]],
    files: dict[str, str],
    targets: dict[str, torch.Size],
    where: str = "",
) -> dict[str, list[_Write]]:
    """For each checkpoint tensor, where it goes in the model, checked before anything is allocated.

    ``sources``: the checkpoint's tensor shapes (from the shard headers); ``files``: each one's shard;
    ``targets``: the model's tensor shapes; ``where``: the folder, for messages. Unknown tensors, shape
    mismatches, and model weights not fully covered (or covered twice) are each a CheckpointError.
    """
    plan: dict[str, list[_Write]] = {}
    covered = dict.fromkeys(targets, 0)
    for name, shape in sources.items():
        new = rename(name)
        writes = [_Write(new)] if new in targets else _expert_writes(new, shape, targets)
        if not writes or any(w.target not in targets for w in writes):
            raise CheckpointError(
                f"{files[name]}: unexpected tensor {name!r}: "
                "no such weight in the model (is the config right?)"
            )
        for w in writes:
            dst, src = _indexed(targets[w.target], w.dst_index), _indexed(shape, w.src_index)
            if dst != src and not _same_up_to_singletons(dst, src):
                raise CheckpointError(
                    f"{files[name]}: tensor {name!r} has shape {tuple(src)}, but the model expects "
                    f"{tuple(dst)} for {w.target!r} (is the config right?)"
                )
            covered[w.target] += math.prod(src)
        plan[name] = writes
    missing = [k for k, n in covered.items() if n < math.prod(targets[k])]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckpointError(
            f"{where}: checkpoint lacks weights the model needs: {', '.join(missing[:5])}{more}"
        )
    twice = [k for k, n in covered.items() if n > math.prod(targets[k])]
    if twice:
        raise CheckpointError(
            f"{where}: checkpoint holds weights twice (both expert layouts?): {', '.join(twice[:5])}"
        )
    return plan


def _indexed(shape: tuple[int, ...] | torch.Size, index: tuple) -> torch.Size:
    """The shape of ``tensor[index]`` for a tensor of ``shape``, computed on the meta device (free)."""
    return torch.empty(shape, device="meta")[index].shape if index else torch.Size(shape)


def _same_up_to_singletons(a: torch.Size, b: torch.Size) -> bool:
    """(D, 1, W) conv weights fit a (D, W) parameter: same data, a unit axis dropped."""
    return [d for d in a if d != 1] == [d for d in b if d != 1]


# ---- materializing the model ------------------------------------------------------------------------
def _tensor_slots(model: nn.Module) -> dict[str, tuple[nn.Module, str, bool]]:
    """name -> (owning module, attribute, is_parameter) for every parameter and persistent buffer."""
    slots: dict[str, tuple[nn.Module, str, bool]] = {}
    seen: set[int] = set()
    for mod_name, mod in model.named_modules():
        prefix = f"{mod_name}." if mod_name else ""
        for attr, p in mod._parameters.items():
            if p is not None and id(p) not in seen:  # a tied weight is loaded once, under its first name
                seen.add(id(p))
                slots[prefix + attr] = (mod, attr, True)
        for attr, b in mod._buffers.items():
            if b is not None and attr not in mod._non_persistent_buffers_set:
                slots[prefix + attr] = (mod, attr, False)
    return slots


def materialize(model: nn.Module, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Put every parameter and persistent buffer on ``device``; floating ones in ``dtype``.

    Tensors on ``meta`` become uninitialized storage on the device (no CPU copy ever exists); tensors
    elsewhere are moved one at a time. Tied parameters stay tied. Returns name -> tensor to fill.
    """
    replaced: dict[int, nn.Parameter] = {}
    for mod in model.modules():
        for attr, p in mod._parameters.items():
            if p is None:
                continue
            if id(p) not in replaced:
                replaced[id(p)] = _placed(p, device, dtype, lambda t: nn.Parameter(t, requires_grad=False))
            mod._parameters[attr] = replaced[id(p)]
        for attr, b in mod._buffers.items():
            if b is not None and attr not in mod._non_persistent_buffers_set:
                mod._buffers[attr] = _placed(b, device, dtype, lambda t: t)
    return {name: getattr(mod, attr) for name, (mod, attr, _) in _tensor_slots(model).items()}


def _placed(t: torch.Tensor, device: torch.device, dtype: torch.dtype, wrap) -> torch.Tensor:
    want = dtype if t.is_floating_point() else t.dtype
    if t.device == device and t.dtype == want:
        return t
    if t.is_meta:
        return wrap(torch.empty(t.shape, device=device, dtype=want))
    return wrap(t.detach().to(device=device, dtype=want))


def _device(device: str | torch.device) -> torch.device:
    """``cuda`` means the current CUDA device, so placed tensors compare equal to it."""
    d = torch.device(device)
    if d.type == "cuda" and d.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return d


# ---- loading ------------------------------------------------------------------------------------
def _iter_tensors(
    folder: Path, shards: dict[str, list[str]], plan: dict[str, list[_Write]], device: str
) -> Iterator[tuple[torch.Tensor, _Write]]:
    """(tensor, where it goes) one at a time, each read straight from the mapped file to ``device``."""
    for fname, names in shards.items():
        with _open(folder / fname, device) as f:
            for name in names:
                for w in plan[name]:
                    if w.src_index:
                        yield f.get_slice(name)[w.src_index], w  # read only the expert slice needed
                    else:
                        yield f.get_tensor(name), w


def _headers(folder: Path, shards: dict[str, list[str]]) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Every listed tensor's shape and the path of its shard, read from the headers alone."""
    shapes: dict[str, tuple[int, ...]] = {}
    files: dict[str, str] = {}
    for fname, names in shards.items():
        with _open(folder / fname, "cpu") as f:
            present = set(f.keys())
            for name in names:
                if name not in present:
                    raise CheckpointError(f"{folder / fname}: tensor {name!r} listed in the index is missing")
                shapes[name] = tuple(f.get_slice(name).get_shape())
                files[name] = str(folder / fname)
    return shapes, files


def load_weights(
    model: nn.Module,
    folder: Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float32,
) -> nn.Module:
    """Fill ``model`` (built on any device, ``meta`` included) from the checkpoint in ``folder``.

    Every checkpoint tensor must land somewhere and every model weight must be fully written, with
    matching shapes; this is checked from the shard headers before any memory is allocated, and
    anything else is a CheckpointError that names the tensor and the file.
    """
    folder, device, dtype = Path(folder), _device(device), dtype_of(dtype)
    start = time.perf_counter()
    shards = shard_map(folder)
    shapes, files = _headers(folder, shards)
    plan = plan_writes(shapes, files, {k: v.shape for k, v in _model_tensors(model).items()}, str(folder))
    tensors = materialize(model, device, dtype)
    read_device = str(device) if device.type == "cuda" else "cpu"
    with torch.no_grad():
        for src, w in _iter_tensors(folder, shards, plan, read_device):
            dst = tensors[w.target][w.dst_index] if w.dst_index else tensors[w.target]
            dst.copy_(src.reshape(dst.shape))  # copy_ casts on the device: no full-size fp32 staging
    log.info(
        "loaded %d tensors from %s in %.2fs (%s, %s)",
        len(plan),
        folder,
        time.perf_counter() - start,
        device,
        dtype,
    )
    return model


def _model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: getattr(mod, attr) for name, (mod, attr, _) in _tensor_slots(model).items()}


# ---- random weights -----------------------------------------------------------------------------
def _inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    return x + torch.log(-torch.expm1(-x))


@torch.no_grad()
def init_tensor_(name: str, t: torch.Tensor, config: JambaConfig, gen: torch.Generator) -> torch.Tensor:
    """Fill ``t`` (named like a checkpoint tensor) in place as a freshly initialized Jamba would be.

    Random but realistic numerics, following the Mamba paper's init where it matters: the SSM decays,
    time steps and skip path behave like a trained model's at step zero, so kernels and caches are
    exercised on values of the right magnitude. Everything else is normal(0, initializer_range).
    """
    if name.endswith(("layernorm.weight", "norm.weight", ".D")):
        return t.fill_(1.0)
    if name.endswith(".A_log"):  # S4D-real: A = -(1..N) on every channel (Mamba section 3.6)
        n = t.shape[-1]
        return t.copy_(
            torch.log(torch.arange(1, n + 1, device=t.device, dtype=torch.float32)).expand(t.shape)
        )
    if name.endswith("dt_proj.bias"):  # softplus(bias) log-uniform in [1e-3, 1e-1] (Mamba's dt_min/max)
        u = torch.rand(t.shape, generator=gen, device=t.device)
        dt = torch.exp(u * (math.log(1e-1) - math.log(1e-3)) + math.log(1e-3))
        return t.copy_(_inverse_softplus(dt))
    if name.endswith(".bias"):
        return t.zero_()
    if name.endswith("dt_proj.weight"):  # Mamba's "random" dt init: uniform(+-dt_rank^-0.5)
        bound = config.dt_rank**-0.5
        return t.uniform_(-bound, bound, generator=gen)
    if name.endswith("conv1d.weight"):  # PyTorch's Conv1d default (fan_in = W), which Mamba keeps
        bound = config.mamba_d_conv**-0.5
        return t.uniform_(-bound, bound, generator=gen)
    return t.normal_(0.0, config.initializer_range, generator=gen)


def init_random_weights(
    model: nn.Module,
    config: JambaConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str = torch.float32,
) -> nn.Module:
    """Materialize ``model`` on ``device`` in ``dtype`` and fill it with seeded random weights in place.

    Built for ``--random-weights`` on a GPU: with the model on ``meta``, every tensor is created on
    the device and filled there by a device generator, so a 52B model never touches CPU memory.
    """
    device, dtype = _device(device), dtype_of(dtype)
    tensors = materialize(model, device, dtype)
    gen = torch.Generator(device=device)
    for name, t in tensors.items():
        if t.is_floating_point():
            init_tensor_(name, t, config, gen.manual_seed(tensor_seed(seed, name)))
    return model


def tensor_seed(seed: int, name: str) -> int:
    """One seed per (seed, tensor name): a tensor's values do not depend on which model holds it or
    in what order its tensors are visited, so our model and transformers' get the same weights."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (1 << 63)
