"""The model benchmark: our engine's chunked prefill and decode against transformers' JambaForCausalLM.

For each prompt length it measures, on the same weights: prefill tokens/s, time to first token, peak
memory and decode tokens/s at that context, for our engine and (up to ``--hf-max``) for transformers.
Each measurement runs in its own subprocess, so peak memory is that run's alone (CPU: the process's
peak RSS; CUDA: ``torch.cuda.max_memory_allocated``) and a run that dies or times out costs only its
own row. On CUDA it also reports achieved TFLOP/s against a bf16 matmul peak measured in the same run.

    python -m model bench --model data/tiny-jamba --lengths 2048,8192,32768,131072 --hf-max 8192
    python -m model bench --device cuda --preset jamba-mini --random-weights --dtype bfloat16
    python -m model bench --device cuda --preset jamba-mini --random-weights --lengths 4096,8192 \
        --hf-lengths 4096,8192 --hf-shared      # transformers on our very tensors, one process per length

With ``--hf-shared`` both engines run in one process per length and transformers' model is given our
model's tensors (views, no copy): the same weights by construction, and one copy of a 52B model in GPU
memory. A measurement that times out still reports what finished before it (ours, when only
transformers was too slow).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from model.config import PRESETS, JambaConfig
from model.layout import count_active_parameters
from model.timing import ATTENTION_CLASSES, seconds_inside

MiB = 1 << 20


# ---- arithmetic -----------------------------------------------------------------------------------
def prefill_flops(config: JambaConfig, n: int) -> float:
    """Useful FLOPs of an n-token prefill: matmuls of the active weights, causal attention, the scan.

    Counts 2 FLOPs per multiply-add. Excludes the embedding lookup (no matmul) and projects only the
    last position to the vocabulary, as the engine does.
    """
    c = config
    vocab_rows = c.vocab_size * c.hidden_size * (1 if c.tie_word_embeddings else 2)
    matmul = 2 * (count_active_parameters(c) - vocab_rows) * n + 2 * c.vocab_size * c.hidden_size
    # causal: query i sees i + 1 keys; QK^T and PV each 2 * D FLOPs per (query, key, head)
    attention = len(c.attention_layers) * 4 * c.num_attention_heads * c.head_dim * n * (n + 1) / 2
    scan = len(c.mamba_layers) * 9 * c.d_inner * c.mamba_d_state * n  # discretize, update, read out
    return matmul + attention + scan


def measure_matmul_peak(device: str, dtype: torch.dtype, size: int = 8192, reps: int = 20) -> float:
    """Achieved FLOP/s of a large square matmul on this device: the ceiling to compare against."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - t0)


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


# ---- one measurement (runs in a worker process) ----------------------------------------------------
def _prompt(vocab: int, n: int, seed: int = 0) -> torch.Tensor:
    """Random ids past the special tokens: a random-weights model reads any text the same."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(8, vocab, (1, n), generator=g)


def resolve_preset(name: str) -> JambaConfig:
    """A published shape by name (``PRESETS``), or the shape of a checkpoint folder / config.json file:
    the CPU rehearsal of the GPU run builds a small model through exactly the random-weights path."""
    if name in PRESETS:
        return PRESETS[name]
    path = Path(name)
    folder = path.parent if path.name == "config.json" else path
    if not (folder / "config.json").is_file():
        raise SystemExit(f"--preset {name!r}: not one of {', '.join(sorted(PRESETS))} nor a config.json")
    return JambaConfig.from_pretrained(folder)


def _build_ours(spec: dict):
    from model.engine import Engine

    if spec.get("preset"):
        from model.jamba import JambaForCausalLM
        from model.weights import init_random_weights

        config = resolve_preset(spec["preset"])
        with torch.device("meta"):
            model = JambaForCausalLM(config)
        init_random_weights(model, config, seed=0, device=spec["device"], dtype=spec["dtype"])
        return Engine(model, None, config, name=f"{spec['preset']} (random weights)")
    return Engine.load(spec["model"], device=spec["device"], dtype=spec["dtype"])


def _best_of(repeat: int, device: str, fn):
    """Run ``fn`` ``repeat`` times: (its last result, the fastest time), the run least disturbed by
    whatever else the machine was doing."""
    out, best = None, float("inf")
    for _ in range(max(1, repeat)):
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return out, best


def _timings(n: int, n_decode: int, ttft: float, decode_s: float) -> dict:
    return {
        "ttft_s": ttft,
        "prefill_tok_s": n / ttft,
        "decode_tok_s": n_decode / decode_s if n_decode else None,
        "decode_ms_per_token": 1e3 * decode_s / n_decode if n_decode else None,
        "decode_steps": n_decode,
    }


def _warm_up(engine, ids: torch.Tensor) -> None:
    """Compile and load everything the timed runs use, outside the timing: a prefill of two chunks (the
    second starts from a carried state and attends to a cached prefix) and two decode steps."""
    m = min(128, ids.shape[1])
    cache = engine.new_cache(m + 2)
    logits = engine.prefill(ids[:, :m], cache, max(1, m // 2))
    for i in range(2):
        logits = engine.decode_step(logits.argmax(-1), cache, m + i)


def _run_ours(spec: dict, engine=None) -> dict:
    engine = engine or _build_ours(spec)
    n, n_decode, dev, rep = spec["length"], spec["decode"], spec["device"], spec.get("repeat", 1)
    ids = _prompt(engine.config.vocab_size, n)
    _warm_up(engine, ids)
    _reset_peak(dev)
    before = _peak_bytes(dev)
    cache = engine.new_cache(n + n_decode)
    first, ttft = _best_of(rep, dev, lambda: engine.prefill(ids, cache, spec["chunk"]).argmax(-1))

    def decode():
        token = first
        for i in range(n_decode):
            token = engine.decode_step(token, cache, n + i).argmax(-1)

    _, decode_s = _best_of(rep, dev, decode)
    return {
        **_timings(n, n_decode, ttft, decode_s),
        **_attention_pass(engine.model, lambda: engine.prefill(ids, cache, spec["chunk"]), dev),
        "before_bytes": before,
        "kernels": _kernel_name(engine, dev),
        **_model_facts(engine.model),
        "config": engine.config,
    }


def _attention_pass(model: nn.Module, prefill, device: str) -> dict:
    """The request's peak memory, read now, then one more ``prefill`` timed inside the attention mixers
    (the pass is not part of the request, so the peak is read before it)."""
    peak = _peak_bytes(device)
    seconds = seconds_inside(model, ATTENTION_CLASSES, prefill, lambda: _sync(device))
    return {"attention_s": seconds, "peak_bytes_run": peak}


def _model_facts(model: nn.Module) -> dict:
    """What the weights are, read off the live model: parameter count, bytes, dtype and device."""
    params = {id(p): p for p in model.parameters()}.values()  # a tied weight counts once
    p0 = next(iter(params))
    return {
        "parameters": sum(p.numel() for p in params),
        "weights_bytes": sum(p.numel() * p.element_size() for p in params),
        "weights_dtype": str(p0.dtype).removeprefix("torch."),
        "weights_device": str(p0.device),
    }


def _kernel_name(engine, device: str) -> str | None:
    name = getattr(engine.ops, "name", None)
    if name == "auto":  # resolved per device type on first use; say which one ran
        from model.ops.dispatch import pick_backend

        return f"auto ({pick_backend(torch.device(device).type)})"
    return name


def _hf_config(config: JambaConfig):
    import transformers

    return transformers.JambaConfig(
        **{k: v for k, v in config.to_dict().items() if k not in ("architectures", "model_type")}
    )


def _build_hf(spec: dict):
    import transformers

    dtype = getattr(torch, spec["dtype"])
    if spec.get("preset"):
        from model.weights import init_random_weights

        config = resolve_preset(spec["preset"])
        with torch.device("meta"):
            model = transformers.JambaForCausalLM(_hf_config(config))
        init_random_weights(
            model, config, seed=0, device=spec["device"], dtype=dtype
        )  # same seeds, same weights
        return model.eval(), config
    model = transformers.AutoModelForCausalLM.from_pretrained(spec["model"], dtype=dtype).to(spec["device"])
    return model.eval(), JambaConfig.from_pretrained(spec["model"])


def share_weights(ours: nn.Module, hf: nn.Module) -> int:
    """Point every tensor of transformers' model (built on ``meta``) at ours: views, never copies.

    Names are the checkpoint's on both sides; an expert layout that differs is bridged by the loader's
    own mapping (``model.weights``), as a view into our stacked tensor. Returns how many tensors were
    shared; raises ValueError for one with no counterpart or if anything is left on ``meta``.
    """
    from model.weights import _expert_writes, _tensor_slots

    mine = {name: getattr(mod, attr) for name, (mod, attr, _) in _tensor_slots(ours).items()}
    shapes = {name: t.shape for name, t in mine.items()}
    shared = 0
    for name, (mod, attr, is_param) in _tensor_slots(hf).items():
        want = getattr(mod, attr).shape
        if name in mine and mine[name].numel() == math.prod(want):
            t = mine[name].view(want)  # (Di, 1, W) conv weights and the like: same data
        else:
            writes = _expert_writes(name, tuple(want), shapes) or []
            if len(writes) != 1 or writes[0].src_index:
                raise ValueError(f"transformers' tensor {name!r} {tuple(want)} has no counterpart in ours")
            t = mine[writes[0].target][writes[0].dst_index]
        if is_param:
            mod._parameters[attr] = nn.Parameter(t, requires_grad=False)
        else:
            mod._buffers[attr] = t
        shared += 1
    if getattr(hf.config, "tie_word_embeddings", False):
        hf.lm_head.weight = hf.model.embed_tokens.weight
    left = [n for n, t in [*hf.named_parameters(), *hf.named_buffers()] if t.is_meta]
    if left:
        raise ValueError(f"transformers' model still has tensors on meta: {', '.join(left[:5])}")
    return shared


def hf_twin(engine) -> nn.Module:
    """transformers' JambaForCausalLM on our engine's very weights (no copy), for a same-weights baseline."""
    import transformers

    with torch.device("meta"):
        hf = transformers.JambaForCausalLM(_hf_config(engine.config))
    share_weights(engine.model, hf)
    return hf.eval()


def _hf_cache_kw(model) -> str:
    """transformers renamed ``past_key_values`` to ``cache`` (5.2x); take whichever this version has."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.inference_mode()
def _run_hf(spec: dict, model=None, config: JambaConfig | None = None) -> dict:
    if model is None:
        model, config = _build_hf(spec)
    n, n_decode, dev, rep = spec["length"], spec["decode"], spec["device"], spec.get("repeat", 1)
    ids = _prompt(config.vocab_size, n).to(dev)
    kw = _hf_cache_kw(model)
    warm = model(ids[:, :64], use_cache=True, logits_to_keep=1)  # warm-up, decode included
    token = warm.logits[:, -1].argmax(-1, keepdim=True)
    model(token, use_cache=True, logits_to_keep=1, **{kw: getattr(warm, kw)})
    del warm
    _reset_peak(dev)
    before = _peak_bytes(dev)
    # last-position logits only, as ours computes them
    out, ttft = _best_of(rep, dev, lambda: model(ids, use_cache=True, logits_to_keep=1))

    def decode():
        step, cache = out, getattr(out, kw)
        for _ in range(n_decode):
            token = step.logits[:, -1].argmax(-1, keepdim=True)
            step = model(token, use_cache=True, logits_to_keep=1, **{kw: cache})
            cache = getattr(step, kw)

    _, decode_s = _best_of(rep, dev, decode)
    timed = _attention_pass(model, lambda: model(ids, use_cache=True, logits_to_keep=1), dev)
    attn = getattr(model.config, "_attn_implementation", None)
    return {**_timings(n, n_decode, ttft, decode_s), **timed, "before_bytes": before, "attention": attn,
            "transformers": _version("transformers"), **_model_facts(model), "config": config}


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def _reset_peak(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        return
    try:  # Linux: writing 5 resets the process's peak RSS to its current RSS (proc(5), clear_refs)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # elsewhere the peak stays the process's lifetime peak


def _peak_bytes(device: str) -> int:
    if str(device).startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    try:  # VmHWM honours the reset above; getrusage's maxrss does not
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(spec: dict) -> dict:
    """One measurement, in this process: returns timings, peak memory and FLOP/s."""
    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    if spec["engine"] == "matmul":
        return {"tflops": measure_matmul_peak(spec["device"], getattr(torch, spec["dtype"])) / 1e12}
    if spec["engine"] == "pair":
        raise ValueError("the pair measurement prints two results: run it through pair_worker")
    run = _run_ours if spec["engine"] == "ours" else _run_hf
    return _finish(spec, run(spec))


def _finish(spec: dict, result: dict) -> dict:
    config = result.pop("config")
    before = result.pop("before_bytes")
    run_peak = result.pop("peak_bytes_run", None)
    # max(): Linux batches RSS counts per thread, so a CPU peak read later can trail by a few 100 KiB
    result["peak_bytes"] = max(run_peak if run_peak is not None else _peak_bytes(spec["device"]), before)
    result["request_bytes"] = result["peak_bytes"] - before  # cache + activations
    result["tflops"] = prefill_flops(config, spec["length"]) / result["ttft_s"] / 1e12
    return result


def pair_worker(spec: dict, emit=print) -> dict:
    """Ours, then transformers on the same tensors, in this process; ``emit``s a JSON line after each,
    so a transformers run that is killed for time still leaves ours on record."""
    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    engine = _build_ours(spec)
    out = {"ours": _finish(spec, _run_ours(spec, engine))}
    emit(json.dumps(out))
    try:
        hf = hf_twin(engine)
        out["hf"] = _finish(spec, _run_hf(spec, hf, engine.config))
        out["hf"]["weights"] = "shared with ours (no copy)"
    except Exception as e:  # an OOM or an API change in transformers costs only its own cell
        out["hf"] = {"error": f"{type(e).__name__}: {e}"[:300]}
    emit(json.dumps(out))
    return out


def _in_subprocess(spec: dict, timeout: float) -> dict:
    """Run one measurement in a fresh process. A pair that dies or times out returns what it emitted
    before (ours), with the error in the cell that did not finish."""
    cmd = [sys.executable, "-m", "model.bench", "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        stdout, error = done.stdout, None
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            error = f"exit {done.returncode}: {tail[:200]}"
    except subprocess.TimeoutExpired as e:
        stdout, error = _text(e.stdout), f"did not finish in {timeout:.0f} s"
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if spec["engine"] == "pair":
        out = json.loads(lines[-1]) if lines else {"ours": {"error": error or "no output"}}
        if "hf" not in out:
            out["hf"] = {"error": error or "no output"}
        return out
    if error or not lines:
        return {"error": error or "no output"}
    return json.loads(lines[-1])


def _text(b: bytes | str | None) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


# ---- the table ------------------------------------------------------------------------------------
def _fmt(x, spec: str = ",.0f") -> str:
    return "-" if x is None else format(x, spec)


def _row(n: int, ours: dict, hf: dict | None, cuda: bool) -> str:
    def cells(r: dict | None) -> list[str]:
        if r is None:
            return ["(skipped)", "", "", ""]
        if "error" in r:
            return [r["error"][:40], "", "", ""]
        return [
            _fmt(r["prefill_tok_s"]),
            _fmt(r["ttft_s"], ".2f"),
            f"{_fmt(r['peak_bytes'] / MiB)} (+{_fmt(r['request_bytes'] / MiB)})",
            _fmt(r["decode_tok_s"], ",.1f"),
        ]

    speedup, attention, bound = "-", "-", "-"
    if hf and "error" not in hf and "error" not in ours:
        speedup = f"{ours['prefill_tok_s'] / hf['prefill_tok_s']:.1f}x"
        if ours.get("attention_s") and hf.get("attention_s"):
            attention = f"{ours['attention_s']:.2f} / {hf['attention_s']:.2f}"
            bound = f"{speedup_bound(hf['ttft_s'], ours['attention_s'], hf['attention_s']):.1f}x"
    extra = []
    if cuda:
        share = ours.get("share_of_matmul_peak")
        extra = [f"{ours['tflops']:.1f} ({share:.0%})" if share is not None else ""]
    return " | ".join([f"{n:>7,}", *cells(ours), *extra, *cells(hf), speedup, attention, bound])


def speedup_bound(hf_ttft: float, ours_attention: float, hf_attention: float) -> float:
    """The largest prefill speed-up over transformers that any engine calling the same attention kernel
    could reach: transformers' whole prefill time over the faster of the two attention times."""
    return hf_ttft / min(ours_attention, hf_attention)


def header(cuda: bool) -> str:
    ours = ["ours prefill tok/s", "TTFT s", "peak MiB (+request)", "decode tok/s"] + (
        ["TFLOP/s (of matmul peak)"] if cuda else []
    )
    hf = ["HF prefill tok/s", "TTFT s", "peak MiB (+request)", "decode tok/s"]
    return " | ".join(["tokens", *ours, *hf, "speedup", "attention s (ours / HF)", "speedup bound"])


def run_benchmark(args: argparse.Namespace) -> dict:
    cuda = args.device.startswith("cuda")
    dtype = args.dtype or ("bfloat16" if cuda else "float32")
    base = {
        "model": args.model,
        "preset": args.preset if args.random_weights else None,
        "device": args.device,
        "dtype": dtype,
        "decode": args.decode,
        "chunk": args.prefill_chunk,
        "threads": args.threads,
        "repeat": args.repeat,
    }
    if args.preset:
        resolve_preset(args.preset)  # fail here, once, not in every worker
    if args.preset and not args.random_weights:
        raise SystemExit("--preset needs --random-weights (no published checkpoint is reachable here)")
    what = f"{args.preset} (random weights)" if base["preset"] else args.model
    print(
        f"# model {what}; device {args.device} ({_device_name(args.device)}); dtype {dtype}; "
        f"prefill chunk {args.prefill_chunk}; decode {args.decode} tokens; best of {args.repeat}; "
        f"torch threads {args.threads or torch.get_num_threads()}; "
        f"peak = {'max_memory_allocated' if cuda else 'peak RSS'}"
    )
    out: dict = {
        "device": args.device,
        "device_name": _device_name(args.device),
        "dtype": dtype,
        "model": what,
        "prefill_chunk": args.prefill_chunk,
        "decode_steps": args.decode,
        "hf_weights": "shared (no copy)" if args.hf_shared else "separate process, same weights",
        "torch": torch.__version__,
        "rows": [],
    }
    if cuda:  # in its own process too, so the runs below start with an empty GPU
        peak = _in_subprocess({**base, "engine": "matmul", "length": 0}, args.timeout)
        if "error" in peak:  # the rows are still worth having, without their share of the peak
            out["matmul_peak_error"] = peak["error"]
            print(f"# matmul peak measurement failed: {peak['error']}")
        else:
            out["matmul_peak_tflops"] = peak["tflops"]
            print(f"# measured {dtype} matmul peak: {peak['tflops']:.0f} TFLOP/s")
    print(header(cuda))
    for n in sorted(set(args.lengths) | set(args.hf_lengths or ())):
        with_hf = n in args.hf_lengths if args.hf_lengths is not None else n <= args.hf_max
        if with_hf and args.hf_shared:
            pair = _in_subprocess({**base, "engine": "pair", "length": n}, args.timeout)
            ours, hf = pair["ours"], pair["hf"]
        else:
            ours = _in_subprocess({**base, "engine": "ours", "length": n}, args.timeout)
            hf = _in_subprocess({**base, "engine": "hf", "length": n}, args.timeout) if with_hf else None
        if cuda and "tflops" in ours and "matmul_peak_tflops" in out:
            ours["share_of_matmul_peak"] = ours["tflops"] / out["matmul_peak_tflops"]
        out["rows"].append({"tokens": n, "ours": ours, "hf": hf})
        print(_row(n, ours, hf, cuda), flush=True)
        if args.json:  # after every row: a run stopped from outside keeps the rows it finished
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--model", default=os.environ.get("DOCQA_MODEL", "data/tiny-jamba"), help="checkpoint folder"
    )
    ap.add_argument(
        "--lengths", type=lambda s: [int(x) for x in s.split(",")], default=[2048, 8192, 32768, 131072]
    )
    ap.add_argument("--hf-max", type=int, default=8192, help="longest prompt to run transformers on")
    ap.add_argument(
        "--hf-lengths",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        default=None,
        help="run transformers at exactly these lengths (instead of --hf-max); '' for none",
    )
    ap.add_argument(
        "--hf-shared",
        action="store_true",
        help="run transformers in ours' process on our tensors (no copy) instead of its own process",
    )
    ap.add_argument("--decode", type=int, default=32, help="decode steps timed after each prefill")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="float32 (CPU default) or bfloat16 (CUDA default)")
    ap.add_argument(
        "--preset",
        default=None,
        help=f"a published shape ({', '.join(sorted(PRESETS))}) or a config.json / checkpoint folder "
        "whose shape to build, with --random-weights",
    )
    ap.add_argument(
        "--random-weights", action="store_true", help="initialize --preset on the device, no checkpoint"
    )
    ap.add_argument("--prefill-chunk", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=1, help="time each run this many times, keep the fastest")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads per run (default: torch's)")
    ap.add_argument(
        "--timeout", type=float, default=1800, help="seconds per measurement before it is abandoned"
    )
    ap.add_argument("--json", default=None, help="also write the results here")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model bench", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    run_benchmark(ap.parse_args(argv))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        job = json.loads(sys.argv[2])
        if job["engine"] == "pair":
            pair_worker(job, emit=lambda line: print(line, flush=True))
        else:
            print(json.dumps(worker(job)))
    else:
        main()
