"""Every kernel backend against the reference, on one device: outputs AND final states, fp32 and bf16.

    python -m model.ops.cuda_check --device cuda --json kernels.json     # on the GPU (all sizes)
    TRITON_INTERPRET=1 python -m model.ops.cuda_check --device cpu       # rehearsal (small sizes)

Plain Python (no pytest), so it runs on a GPU machine that has only PyTorch and Triton. For each case
(a shape and a memory layout) and dtype it runs, per backend, the four ops the engine uses:

- the scan and the conv on the whole sequence, from zeros and from a random initial state;
- the same sequence in two chunks, the state of the first carried into the second (chunked prefill);
- a prefill of all but the last K tokens, then K one-token decode steps from its state;

and compares each output and each final state with the reference (``model.ops.reference``) run on the
same inputs on the same device, as max |out - ref| / max |ref|, against a per-dtype tolerance. NaN or
inf never passes. Exits 1 when a check fails or a required backend (``--require``) cannot run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch

from model.ops.dispatch import BACKENDS, get_ops
from model.ops.errors import KernelBackendUnavailable

# Allowed max |out - ref| / max |ref|. The states are fp32 in every backend whatever the input dtype, so
# they get the fp32 bound; bf16 outputs are rounded to 8 mantissa bits by each backend, which may differ
# by an ulp (2^-8 of an element), and Triton's exp is the hardware approximation (~2 ulp in fp32).
TOLERANCE = {
    "float32": {"out": 2e-4, "state": 2e-4},
    "bfloat16": {"out": 1.6e-2, "state": 2e-4},
}
CONV_STATE_EXACT = True  # the conv state is a copy of inputs: any difference at all is a bug


@dataclass(frozen=True)
class Case:
    """One problem shape. ``channels_last``: activations laid out as the engine passes them, transposed
    (B, T, D) projections with channels contiguous; otherwise contiguous (B, D, T)."""

    name: str
    batch: int
    dim: int
    d_state: int
    length: int
    channels_last: bool
    width: int = 4
    decode_steps: int = 4


SIZES: dict[str, tuple[Case, ...]] = {
    # The CPU test's: every check once, on a shape the Triton interpreter gets through in seconds.
    "tiny": (Case("tiny B2 D24 N12 T9", 2, 24, 12, 9, channels_last=True, decode_steps=2),),
    # Masked edges: D not a multiple of any channel block, odd T, N not a power of two.
    "small": (
        Case("odd B2 D96 N16 T37", 2, 96, 16, 37, channels_last=False),
        Case("n12 B1 D40 N12 T19", 1, 40, 12, 19, channels_last=True, decode_steps=3),
    ),
}
# Jamba Mini's Mamba width (d_inner 8192, N 16) on one 2048-token prefill chunk, in the engine's layout.
SIZES["full"] = SIZES["small"] + (
    Case("mini B1 D8192 N16 T2048", 1, 8192, 16, 2048, channels_last=True, decode_steps=8),
    Case("mini B2 D8192 N16 T300", 2, 8192, 16, 300, channels_last=False, decode_steps=4),
)


# ---- inputs -----------------------------------------------------------------------------------------
def _seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def make_inputs(case: Case, dtype: torch.dtype, device: str) -> dict[str, torch.Tensor]:
    """Fresh random inputs at the scales a Mamba layer sees (softplus(dt) ~ 0.1-1, A in -1..-16).

    Drawn on the CPU from a seed of (case, dtype), so every backend and device sees the same numbers.
    """
    g = torch.Generator().manual_seed(_seed(case.name, str(dtype)))
    b, d, n, t, w = case.batch, case.dim, case.d_state, case.length, case.width

    def rand(*shape, scale=1.0, shift=0.0):
        return torch.randn(*shape, generator=g) * scale + shift

    def act(rows, scale=1.0, shift=0.0):  # (B, rows, T) in the case's layout
        x = rand(b, t, rows, scale=scale, shift=shift).to(device, dtype)
        return x.transpose(1, 2) if case.channels_last else x.transpose(1, 2).contiguous()

    A_log = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(d, 1) + 0.1 * rand(d, n)
    return dict(
        u=act(d), delta=act(d, scale=0.5, shift=-1.0), z=act(d), B=act(n), C=act(n),
        A=(-torch.exp(A_log)).to(device), D=rand(d).to(device), delta_bias=rand(d, scale=0.3).to(device),
        h0=rand(b, d, n).to(device),
        weight=(rand(d, w) / w).to(device, dtype), bias=rand(d).to(device, dtype),
        conv0=rand(b, d, w - 1).to(device, dtype),
    )


# ---- the checks: (name, kind, produce) where produce(ops) gives [(what, tensor)] -----------------------
def _scan(ops, x, sl=slice(None), h0=None):
    return ops.selective_scan(
        x["u"][..., sl], x["delta"][..., sl], x["A"], x["B"][..., sl], x["C"][..., sl], D=x["D"],
        z=x["z"][..., sl], delta_bias=x["delta_bias"], delta_softplus=True, initial_state=h0,
    )


def _conv(ops, x, sl=slice(None), c0=None):
    return ops.causal_conv1d(x["u"][..., sl], x["weight"], x["bias"], initial_state=c0, activation="silu")


def _scan_chained(ops, x):
    half = x["u"].shape[-1] // 2
    y1, h1 = _scan(ops, x, slice(0, half), x["h0"])
    y2, h2 = _scan(ops, x, slice(half, None), h1)
    return torch.cat([y1, y2], dim=-1), h2


def _conv_chained(ops, x):
    half = x["u"].shape[-1] // 2
    y1, c1 = _conv(ops, x, slice(0, half), x["conv0"])
    y2, c2 = _conv(ops, x, slice(half, None), c1)
    return torch.cat([y1, y2], dim=-1), c2


def _scan_decode(ops, x, k):
    """Prefill T-K tokens, then K single-token updates: the last K outputs and the final state."""
    t = x["u"].shape[-1]
    _, h = _scan(ops, x, slice(0, t - k), x["h0"])
    h = h.clone()
    ys = []
    for i in range(t - k, t):
        ys.append(ops.selective_state_update(
            h, x["u"][..., i], x["delta"][..., i], x["A"], x["B"][..., i], x["C"][..., i], D=x["D"],
            z=x["z"][..., i], dt_bias=x["delta_bias"], dt_softplus=True,
        ))
    return torch.stack(ys, dim=-1), h


def _conv_decode(ops, x, k):
    t = x["u"].shape[-1]
    _, c = _conv(ops, x, slice(0, t - k), x["conv0"])
    c = c.clone()
    ys = [ops.causal_conv1d_update(x["u"][..., i], c, x["weight"], x["bias"], activation="silu")
          for i in range(t - k, t)]
    return torch.stack(ys, dim=-1), c


def _whole_scan(o, x):
    return _scan(o, x, h0=x["h0"])


def _whole_conv(o, x):
    return _conv(o, x, c0=x["conv0"])


def checks(case: Case) -> list[tuple[str, Callable, Callable]]:
    """(name, what the backend runs, what the reference runs), each ops, inputs -> (output, final state).

    Chained and decode checks are held to the reference's one-shot pass over the whole sequence, so
    "chunk by chunk" and "token by token" must equal "all at once"."""
    k = case.decode_steps

    def last_k(whole):
        return lambda o, x: (lambda y, s: (y[..., -k:], s))(*whole(o, x))

    return [
        ("scan", _scan, _scan),
        ("scan +state", _whole_scan, _whole_scan),
        ("scan chained", _scan_chained, _whole_scan),
        ("scan decode", lambda o, x: _scan_decode(o, x, k), last_k(_whole_scan)),
        ("conv", _conv, _conv),
        ("conv +state", _whole_conv, _whole_conv),
        ("conv chained", _conv_chained, _whole_conv),
        ("conv decode", lambda o, x: _conv_decode(o, x, k), last_k(_whole_conv)),
    ]


# ---- comparing ----------------------------------------------------------------------------------------
def compare(out: torch.Tensor, expected: torch.Tensor) -> dict:
    """max |out - ref|, that over max |ref|, and ||out - ref|| / ||ref||, in float64 on the CPU."""
    if out.shape != expected.shape or out.dtype != expected.dtype:
        got, want = (out.dtype, tuple(out.shape)), (expected.dtype, tuple(expected.shape))
        return {"error": f"got {got}, expected {want}"}
    a, e = out.detach().double().cpu(), expected.detach().double().cpu()
    finite = bool(torch.isfinite(a).all())
    diff = (a - e).abs()
    scale = e.abs().max().item() if e.numel() else 0.0
    return {
        "finite": finite,
        "max_abs": diff.max().item() if diff.numel() else 0.0,
        "max_rel": (diff.max().item() / scale) if scale else diff.max().item() if diff.numel() else 0.0,
        "norm_rel": (diff.norm() / e.norm().clamp_min(1e-300)).item(),
    }


def _passes(m: dict, tol: float, exact: bool = False) -> bool:
    if "error" in m or not m["finite"] or m["max_rel"] != m["max_rel"]:  # NaN never passes
        return False
    return m["max_abs"] == 0.0 if exact else m["max_rel"] <= tol


def run_case(name: str, ops, case: Case, dtype: torch.dtype, device: str, ref_ops) -> Iterator[dict]:
    """One row per check of ``case`` in ``dtype`` for backend ``ops``."""
    x = make_inputs(case, dtype, device)
    dname = str(dtype).removeprefix("torch.")
    tol = TOLERANCE[dname]
    for check, fn, ref_fn in checks(case):
        row = {"backend": name, "dtype": dname, "case": case.name, "check": check}
        try:
            out, state = fn(ops, x)
            want_out, want_state = ref_fn(ref_ops, x)
        except Exception as e:  # a kernel that raises is a failed check, reported, not a crash
            yield {**row, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]}
            continue
        _sync(device)
        m_out, m_state = compare(out, want_out), compare(state, want_state)
        exact = CONV_STATE_EXACT and check.startswith("conv")
        ok = _passes(m_out, tol["out"]) and _passes(m_state, tol["state"], exact)
        yield {**row, "out": m_out, "state": m_state, "tol_out": tol["out"],
               "tol_state": 0.0 if exact else tol["state"], "ok": ok}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---- the command ----------------------------------------------------------------------------------------
def run(device: str, sizes: str, backends: list[str], dtypes: list[str]) -> dict:
    ref_ops = get_ops("reference")
    cuda = device.startswith("cuda")
    report: dict = {
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if cuda else platform.machine(),
        "torch": torch.__version__,
        "triton": _version("triton"),
        "sizes": sizes,
        "cases": [asdict(c) for c in SIZES[sizes]],
        "backends": {},
        "results": [],
    }
    for name in backends:
        try:
            ops = get_ops(name)
            _probe(ops, device)
        except KernelBackendUnavailable as e:
            report["backends"][name] = f"unavailable: {e}"
            continue
        report["backends"][name] = "ran"
        for dtype in dtypes:
            for case in SIZES[sizes]:
                report["results"].extend(run_case(name, ops, case, getattr(torch, dtype), device, ref_ops))
    failed = [r for r in report["results"] if not r["ok"]]
    report["n_checks"], report["n_failed"] = len(report["results"]), len(failed)
    return report


def _probe(ops, device: str) -> None:
    """Fail early, as unavailable, for a backend that cannot take tensors on this device."""
    x = torch.zeros(1, 4, 2, device=device)
    ops.causal_conv1d(x, torch.zeros(4, 4, device=device), None, None, "silu")


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def _fmt(m: dict | None) -> str:
    if not m or "error" in m:
        return f"{'-':>9} {'-':>9}"
    return f"{m['max_abs']:>9.2e} {m['max_rel']:>9.2e}"


def print_table(report: dict) -> None:
    print(f"# kernels vs reference on {report['device']} ({report['device_name']}); torch {report['torch']}, "
          f"triton {report['triton']}; error = max|out-ref| and that / max|ref|")
    for name, status in report["backends"].items():
        print(f"# backend {name}: {status}")
    print(f"{'backend':<9}{'dtype':<9}{'case':<25}{'check':<14}{'out abs':>9} {'out rel':>9} "
          f"{'state abs':>9} {'state rel':>9} {'tol out/state':>14}  result")
    for r in report["results"]:
        tol = f"{r.get('tol_out', 0):.1e}/{r.get('tol_state', 0):.0e}"
        tail = "ok" if r["ok"] else "FAIL" + (f" ({r['error']})" if "error" in r else "")
        print(f"{r['backend']:<9}{r['dtype']:<9}{r['case']:<25}{r['check']:<14}{_fmt(r.get('out'))} "
              f"{_fmt(r.get('state'))} {tol:>14}  {tail}")
    print(f"# {report['n_checks'] - report['n_failed']}/{report['n_checks']} checks passed")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.ops.cuda_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sizes", choices=sorted(SIZES), default=None,
                   help="full (with Jamba Mini's D=8192) on CUDA, small elsewhere by default")
    p.add_argument("--backends", default=None,
                   help="comma-separated (default: every backend but the reference: chunked,triton,official)")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--require", default="triton",
                   help="backends that must be able to run here, else exit 1 (comma-separated; '' for none)")
    p.add_argument("--json", default=None, help="also write the full report here")
    args = p.parse_args(argv)
    sizes = args.sizes or ("full" if args.device.startswith("cuda") else "small")
    backends = args.backends.split(",") if args.backends else [b for b in BACKENDS if b != "reference"]
    report = run(args.device, sizes, backends, args.dtypes.split(","))
    missing = [b for b in filter(None, args.require.split(",")) if report["backends"].get(b) != "ran"]
    report["missing_required"] = missing
    report["passed"] = report["n_failed"] == 0 and not missing and report["n_checks"] > 0
    print_table(report)
    if missing:
        print(f"# required backend(s) could not run: {', '.join(missing)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
