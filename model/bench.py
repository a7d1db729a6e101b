"""The model benchmark: our engine's chunked prefill and decode against transformers' JambaForCausalLM.

For each prompt length it measures, on the same weights: prefill tokens/s, time to first token, peak
memory and decode tokens/s at that context, for our engine and (up to ``--hf-max``) for transformers.
Each measurement runs in its own subprocess, so peak memory is that run's alone (CPU: the process's
peak RSS; CUDA: ``torch.cuda.max_memory_allocated``) and a run that dies or times out costs only its
own row. On CUDA it also reports achieved TFLOP/s against a bf16 matmul peak measured in the same run.

    python -m model bench --model data/tiny-jamba --lengths 2048,8192,32768,131072 --hf-max 8192
    python -m model bench --device cuda --preset jamba-mini --random-weights --dtype bfloat16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from model.config import PRESETS, JambaConfig
from model.layout import count_active_parameters

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


def _build_ours(spec: dict):
    from model.engine import Engine

    if spec.get("preset"):
        from model.jamba import JambaForCausalLM
        from model.weights import init_random_weights

        config = PRESETS[spec["preset"]]
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
    }


def _run_ours(spec: dict) -> dict:
    engine = _build_ours(spec)
    n, n_decode, dev, rep = spec["length"], spec["decode"], spec["device"], spec.get("repeat", 1)
    ids = _prompt(engine.config.vocab_size, n)
    engine.prefill(ids[:, :64], engine.new_cache(64), spec["chunk"])  # warm-up: kernels, allocator
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
        "before_bytes": before,
        "kernels": _kernel_name(engine, dev),
        "config": engine.config,
    }


def _kernel_name(engine, device: str) -> str | None:
    name = getattr(engine.ops, "name", None)
    if name == "auto":  # resolved per device type on first use; say which one ran
        from model.ops.dispatch import pick_backend

        return f"auto ({pick_backend(torch.device(device).type)})"
    return name


def _build_hf(spec: dict):
    import transformers

    dtype = getattr(torch, spec["dtype"])
    if spec.get("preset"):
        from model.weights import init_random_weights

        config = PRESETS[spec["preset"]]
        hf_config = transformers.JambaConfig(
            **{k: v for k, v in config.to_dict().items() if k not in ("architectures", "model_type")}
        )
        with torch.device("meta"):
            model = transformers.JambaForCausalLM(hf_config)
        init_random_weights(
            model, config, seed=0, device=spec["device"], dtype=dtype
        )  # same seeds, same weights
        return model.eval(), config
    model = transformers.AutoModelForCausalLM.from_pretrained(spec["model"], dtype=dtype).to(spec["device"])
    return model.eval(), JambaConfig.from_pretrained(spec["model"])


@torch.inference_mode()
def _run_hf(spec: dict) -> dict:
    model, config = _build_hf(spec)
    n, n_decode, dev, rep = spec["length"], spec["decode"], spec["device"], spec.get("repeat", 1)
    ids = _prompt(config.vocab_size, n).to(dev)
    model(ids[:, :64], use_cache=True, logits_to_keep=1)  # warm-up
    _reset_peak(dev)
    before = _peak_bytes(dev)
    # last-position logits only, as ours computes them
    out, ttft = _best_of(rep, dev, lambda: model(ids, use_cache=True, logits_to_keep=1))

    def decode():
        step, cache = out, out.cache
        for _ in range(n_decode):
            token = step.logits[:, -1].argmax(-1, keepdim=True)
            step = model(token, cache=cache, use_cache=True, logits_to_keep=1)
            cache = step.cache

    _, decode_s = _best_of(rep, dev, decode)
    return {**_timings(n, n_decode, ttft, decode_s), "before_bytes": before, "config": config}


def _reset_peak(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak_bytes(device: str) -> int:
    if str(device).startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(spec: dict) -> dict:
    """One measurement, in this process: returns timings, peak memory and FLOP/s."""
    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    if spec["engine"] == "matmul":
        return {"tflops": measure_matmul_peak(spec["device"], getattr(torch, spec["dtype"])) / 1e12}
    run = _run_ours if spec["engine"] == "ours" else _run_hf
    result = run(spec)
    config = result.pop("config")
    result["peak_bytes"] = _peak_bytes(spec["device"])
    result["request_bytes"] = result["peak_bytes"] - result.pop("before_bytes")  # cache + activations
    result["tflops"] = prefill_flops(config, spec["length"]) / result["ttft_s"] / 1e12
    return result


def _in_subprocess(spec: dict, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "model.bench", "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:200]}"}
    return json.loads(lines[-1])


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

    speedup = "-"
    if hf and "error" not in hf and "error" not in ours:
        speedup = f"{ours['prefill_tok_s'] / hf['prefill_tok_s']:.1f}x"
    extra = []
    if cuda:
        share = ours.get("share_of_matmul_peak")
        extra = [f"{ours['tflops']:.1f} ({share:.0%})" if share is not None else ""]
    return " | ".join([f"{n:>7,}", *cells(ours), *extra, *cells(hf), speedup])


def header(cuda: bool) -> str:
    ours = ["ours prefill tok/s", "TTFT s", "peak MiB (+request)", "decode tok/s"] + (
        ["TFLOP/s (of matmul peak)"] if cuda else []
    )
    hf = ["HF prefill tok/s", "TTFT s", "peak MiB (+request)", "decode tok/s"]
    return " | ".join(["tokens", *ours, *hf, "speedup"])


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
        "rows": [],
    }
    if cuda:  # in its own process too, so the runs below start with an empty GPU
        peak = _in_subprocess({**base, "engine": "matmul", "length": 0}, args.timeout)
        if "error" in peak:
            raise SystemExit(f"matmul peak measurement failed: {peak['error']}")
        out["matmul_peak_tflops"] = peak["tflops"]
        print(f"# measured {dtype} matmul peak: {peak['tflops']:.0f} TFLOP/s")
    print(header(cuda))
    for n in args.lengths:
        ours = _in_subprocess({**base, "engine": "ours", "length": n}, args.timeout)
        hf = _in_subprocess({**base, "engine": "hf", "length": n}, args.timeout) if n <= args.hf_max else None
        if cuda and "tflops" in ours:
            ours["share_of_matmul_peak"] = ours["tflops"] / out["matmul_peak_tflops"]
        out["rows"].append({"tokens": n, "ours": ours, "hf": hf})
        print(_row(n, ours, hf, cuda), flush=True)
    if args.json:
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
    ap.add_argument("--decode", type=int, default=32, help="decode steps timed after each prefill")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="float32 (CPU default) or bfloat16 (CUDA default)")
    ap.add_argument(
        "--preset", choices=sorted(PRESETS), default=None, help="a published shape, with --random-weights"
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
        print(json.dumps(worker(json.loads(sys.argv[2]))))
    else:
        main()
