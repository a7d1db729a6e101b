"""Micro-benchmark of the Mamba kernels: every backend side by side with the reference, in one run.

    python -m model.ops.bench                    # CPU: reference vs chunked at B=1 D=512 N=16 T=4096
    python -m model.ops.bench --device cuda --dim 8192 --dtype bfloat16   # GPU: + triton, official

Each row is the best of --repeat timed calls after one warm-up, with the largest difference from the
first backend's output (the reference; relative to its largest value), so a fast wrong kernel cannot hide.
"""

from __future__ import annotations

import argparse
import time

import torch

from model.ops.dispatch import get_ops
from model.ops.errors import KernelBackendUnavailable


def _time_once(fn, device: str) -> tuple[float, object]:
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def _inputs(batch, dim, d_state, width, length, dtype, device):
    g = torch.Generator().manual_seed(0)

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=g) * scale + shift).to(device)

    A = -torch.exp(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(dim, 1)).to(device)
    scan = dict(u=rand(batch, dim, length).to(dtype),
                delta=rand(batch, dim, length, scale=0.5, shift=-1).to(dtype), A=A,
                B=rand(batch, d_state, length).to(dtype), C=rand(batch, d_state, length).to(dtype),
                D=rand(dim), z=rand(batch, dim, length).to(dtype), delta_bias=rand(dim, scale=0.3),
                initial_state=rand(batch, dim, d_state))
    conv = dict(x=scan["u"], weight=(rand(dim, width) / width).to(dtype), bias=rand(dim).to(dtype),
                initial_state=rand(batch, dim, width - 1).to(dtype))
    return scan, conv


def _rel_err(out, ref) -> float:
    out, ref = out.float(), ref.float()
    return ((out - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def _cases(ops, scan, conv) -> dict:
    return {
        "selective_scan": lambda: ops.selective_scan(**scan)[0],
        "causal_conv1d": lambda: ops.causal_conv1d(**conv)[0],
        "selective_state_update": lambda: ops.selective_state_update(
            scan["initial_state"].clone(), scan["u"][..., 0], scan["delta"][..., 0], scan["A"],
            scan["B"][..., 0], scan["C"][..., 0], scan["D"], scan["z"][..., 0], scan["delta_bias"]),
    }


def run(args) -> list[tuple]:
    """Rows of (op, backend, seconds per call, tokens per second, max relative error vs reference).

    Repeats are interleaved across backends, so a machine whose load changes during the run slows
    every backend alike instead of skewing the ratio.
    """
    dtype = getattr(torch, args.dtype)
    scan, conv = _inputs(args.batch, args.dim, args.state, args.width, args.tokens, dtype, args.device)
    backends, rows = {}, []
    for name in args.backends.split(","):
        try:
            backends[name] = _cases(get_ops(name), scan, conv)
        except KernelBackendUnavailable as e:
            rows.append(("(all)", name, None, None, f"unavailable: {e}"))
    first = next(iter(backends))
    for op in _cases(None, scan, conv):
        outs = {name: cases[op]() for name, cases in backends.items()}  # warm-up: compiles, fills caches
        best = dict.fromkeys(backends, float("inf"))
        for _ in range(args.repeat):
            for name, cases in backends.items():
                best[name] = min(best[name], _time_once(cases[op], args.device)[0])
        tokens = args.batch * (1 if op == "selective_state_update" else args.tokens)
        for name in backends:
            err = f"{_rel_err(outs[name], outs[first]):.1e}"
            rows.append((op, name, best[name], tokens / best[name], err))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--backends", default=None, help="comma-separated; default: reference + this device's")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dim", type=int, default=512, help="d_inner channels (Jamba Mini: 8192)")
    p.add_argument("--state", type=int, default=16)
    p.add_argument("--width", type=int, default=4)
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.backends is None:
        args.backends = "reference,chunked,triton,official" if args.device == "cuda" else "reference,chunked"
    print(f"device={args.device} B={args.batch} D={args.dim} N={args.state} W={args.width} T={args.tokens} "
          f"dtype={args.dtype} threads={torch.get_num_threads()} best of {args.repeat}")
    print(f"{'op':<24}{'backend':<11}{'ms/call':>11}{'tokens/s':>14}{'vs ref':>9}  max rel err vs ref")
    base = {}
    for op, name, seconds, rate, err in run(args):
        if seconds is None:
            print(f"{op:<24}{name:<11}{err}")
            continue
        base.setdefault(op, seconds)
        print(f"{op:<24}{name:<11}{seconds * 1e3:>11.2f}{rate:>14,.0f}{base[op] / seconds:>8.1f}x  {err}")


if __name__ == "__main__":
    main()
