"""The GPU proof's two small helpers: what machine this is, and the verdict over the stages' outputs.

    python -m model.proof env --device cuda --json OUT/env.json
    python -m model.proof summarize OUT           # reads OUT/{env,kernels,long,hf}.json, stages.jsonl

``scripts/gpu_proof.sh`` runs the stages (kernel check, long-prompt benchmark, transformers baseline),
each in its own process under its own time limit; this module only reads what they wrote. It joins
everything into OUT/gpu_proof.json, prints one summary table, and holds each number against the
issue's targets. A target whose row was not measured (a stage failed, or the CPU rehearsal ran other
lengths) says so: it neither passes nor fails.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

GiB = 1 << 30

# The issue's targets, on one H200 with Jamba Mini in bf16.
LONG, LONGEST = 131072, 256000  # "128K" is 2^17 tokens; "256K" is any row of at least 256,000 tokens
TARGETS = {
    "prefill_128k_s": 8.0,
    "prefill_256k_s": 20.0,
    "decode_128k_ms": 12.0,
    "hf_speedup_8k": 20.0,
}


def env_info(device: str) -> dict:
    """Versions and the device, as the run saw them."""
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "device": device}
    for name in ("triton", "transformers", "safetensors", "numpy"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    if device.startswith("cuda") and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(torch.device(device))
        info.update(device_name=p.name, device_memory_bytes=p.total_memory, sms=p.multi_processor_count,
                    capability=f"{p.major}.{p.minor}", cuda=torch.version.cuda)
    else:
        info["device_name"] = platform.processor() or platform.machine()
    return info


def _load(path: Path) -> dict | list | None:
    if not path.is_file():
        return None
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        return {"error": f"unreadable {path.name}: {e}"}


def _rows(bench: dict | None) -> dict[int, dict]:
    return {r["tokens"]: r for r in (bench or {}).get("rows", [])}


def _ok(cell: dict | None) -> bool:
    return bool(cell) and "error" not in cell


def _get(cell: dict | None, key: str):
    return cell.get(key) if _ok(cell) else None


def _target(name: str, value: float | None, limit: float, higher_is_better: bool = False) -> dict:
    if value is None:
        return {"target": name, "limit": limit, "value": None, "verdict": "not measured"}
    met = value >= limit if higher_is_better else value <= limit
    return {"target": name, "limit": limit, "value": value, "verdict": "PASS" if met else "FAIL"}


def verdicts(long: dict | None, hf: dict | None) -> list[dict]:
    rows, hf_rows = _rows(long), _rows(hf)
    r128 = rows.get(LONG, {}).get("ours")
    big = [r for n, r in sorted(rows.items()) if n >= LONGEST]
    r256 = big[-1]["ours"] if big else None
    pair = hf_rows.get(8192, {})
    speedup = None
    if _ok(pair.get("ours")) and _ok(pair.get("hf")):
        speedup = pair["ours"]["prefill_tok_s"] / pair["hf"]["prefill_tok_s"]
    out = [
        _target("128K-token prefill, s", _get(r128, "ttft_s"), TARGETS["prefill_128k_s"]),
        _target("256K-token prefill fits, s", _get(r256, "ttft_s"), TARGETS["prefill_256k_s"]),
        _target("decode at 128K context, ms/token", _get(r128, "decode_ms_per_token"),
                TARGETS["decode_128k_ms"]),
        _target("prefill speedup over transformers at 8K, x", speedup, TARGETS["hf_speedup_8k"], True),
    ]
    if r256 is not None and not _ok(r256):
        out[1]["error"] = r256.get("error")
    return out


def _kernel_line(kernels: dict | None) -> str:
    if not kernels or "results" not in kernels:
        return "kernels: no result" + (f" ({kernels['error']})" if kernels and "error" in kernels else "")
    worst = {}
    for r in kernels["results"]:
        if "out" in r and "error" not in r["out"]:
            key = r["dtype"]
            worst[key] = max(worst.get(key, 0.0), r["out"]["max_rel"], r["state"].get("max_rel", 0.0))
    ran = ", ".join(f"{b}: {s.split(':')[0]}" for b, s in kernels.get("backends", {}).items())
    w = ", ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items()))
    verdict = "PASS" if kernels.get("passed") else "FAIL"
    return (f"kernels: {verdict}, {kernels['n_checks'] - kernels['n_failed']}/{kernels['n_checks']} checks "
            f"({ran}); worst max-rel error {w}")


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _bench_lines(long: dict | None) -> list[str]:
    if not long:
        return ["long prompts: no result"]
    first = next((r["ours"] for r in long.get("rows", []) if _ok(r["ours"])), {})
    head = (f"model: {long.get('model')}, {_fmt(first.get('parameters'), ',')} parameters, "
            f"{_fmt((first.get('weights_bytes') or 0) / GiB, '.1f')} GiB {first.get('weights_dtype')} on "
            f"{first.get('weights_device')}; kernels {first.get('kernels')}; prefill chunk "
            f"{long.get('prefill_chunk')}; matmul peak {_fmt(long.get('matmul_peak_tflops'), '.0f')} TFLOP/s")
    lines = [head, f"{'tokens':>8} | {'TTFT s':>7} | {'prefill tok/s':>13} | {'TFLOP/s (share)':>16} | "
             f"{'decode ms/tok':>13} | {'peak GiB':>8}"]
    for r in long.get("rows", []):
        o = r["ours"]
        if not _ok(o):
            lines.append(f"{r['tokens']:>8,} | {o.get('error', 'no result')[:70]}")
            continue
        share = o.get("share_of_matmul_peak")
        flops = f"{o['tflops']:.0f}" + (f" ({share:.0%})" if share is not None else "")
        decode = _fmt(o.get("decode_ms_per_token"), ".2f")
        lines.append(f"{r['tokens']:>8,} | {o['ttft_s']:>7.2f} | {o['prefill_tok_s']:>13,.0f} | "
                     f"{flops:>16} | {decode:>13} | {o['peak_bytes'] / GiB:>8.2f}")
    return lines


def _hf_lines(hf: dict | None) -> list[str]:
    if not hf:
        return ["transformers baseline: no result"]
    lines = [f"transformers JambaForCausalLM on the same tensors ({hf.get('hf_weights')}):",
             f"{'tokens':>8} | {'ours tok/s':>10} | {'HF tok/s':>9} | {'speedup':>7} | {'HF peak GiB':>11}"]
    for r in hf.get("rows", []):
        o, h = r["ours"], r.get("hf") or {}
        ours = f"{o['prefill_tok_s']:,.0f}" if _ok(o) else "error"
        if _ok(h):
            theirs, peak = f"{h['prefill_tok_s']:,.0f}", f"{h['peak_bytes'] / GiB:.2f}"
        else:
            theirs, peak = (h.get("error") or "not run")[:40], "-"
        sp = f"{o['prefill_tok_s'] / h['prefill_tok_s']:.1f}x" if _ok(o) and _ok(h) else "-"
        lines.append(f"{r['tokens']:>8,} | {ours:>10} | {theirs:>9} | {sp:>7} | {peak:>11}")
    return lines


def summarize(out_dir: Path) -> dict:
    """Join the stage outputs into gpu_proof.json and return it."""
    parts = {name: _load(out_dir / f"{name}.json") for name in ("env", "kernels", "long", "hf")}
    proof = {
        **parts,
        "stages": _load(out_dir / "stages.jsonl") or [],
        "targets": verdicts(parts["long"], parts["hf"]),
    }
    (out_dir / "gpu_proof.json").write_text(json.dumps(proof, indent=2) + "\n")
    return proof


def print_summary(proof: dict) -> None:
    env = proof.get("env") or {}
    print("== GPU proof summary ==")
    mem = env.get("device_memory_bytes")
    print(f"device: {env.get('device')} ({env.get('device_name')}"
          + (f", {mem / GiB:.0f} GiB" if mem else "") + f"); torch {env.get('torch')}, triton "
          f"{env.get('triton')}, transformers {env.get('transformers')}, python {env.get('python')}")
    for s in proof.get("stages", []):
        print(f"stage {s['stage']:<8} rc {s['rc']:>3}  {s['seconds']:>4} s (limit {s['timeout_s']} s)"
              + ("  TIMED OUT" if s["rc"] in (124, 137) else ""))
    print(_kernel_line(proof.get("kernels")))
    for line in _bench_lines(proof.get("long")) + _hf_lines(proof.get("hf")):
        print(line)
    print("targets:")
    for t in proof["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.2f}"
        print(f"  {t['target']:<46} {value:>9}  (limit {t['limit']:g})  {t['verdict']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.proof", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("env", help="print the versions and the device as JSON")
    e.add_argument("--device", default="cuda")
    e.add_argument("--json", type=Path, default=None, help="also write it here")
    s = sub.add_parser("summarize", help="join OUT's stage outputs into OUT/gpu_proof.json; print the table")
    s.add_argument("out", type=Path)
    args = p.parse_args(argv)
    if args.command == "env":
        text = json.dumps(env_info(args.device), indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n")
        return 0
    proof = summarize(args.out)
    print_summary(proof)
    return 0


if __name__ == "__main__":
    sys.exit(main())
