"""The GPU proof's pieces, rehearsed on the CPU: the kernel check command, transformers on our tensors,
and the summary's verdicts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

from model import proof
from model.bench import _hf_config, hf_twin, share_weights
from model.config import JambaConfig

ROOT = Path(__file__).resolve().parents[2]


def test_cuda_check_command_compares_every_backend_and_writes_json(tmp_path):
    out = tmp_path / "kernels.json"
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "model.ops.cuda_check", "--device", "cpu", "--sizes", "tiny",
         "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["passed"] and report["n_failed"] == 0
    assert report["backends"]["triton"] == "ran" and report["backends"]["chunked"] == "ran"
    seen = {(r["backend"], r["dtype"], r["check"]) for r in report["results"]}
    checks = {"scan", "scan +state", "scan chained", "scan decode", "conv", "conv +state", "conv chained",
              "conv decode"}
    assert seen == {(b, d, c) for b in ("triton", "chunked") for d in ("float32", "bfloat16") for c in checks}
    for r in report["results"]:  # outputs and states both compared, with a real (nonzero) reference
        assert r["out"]["finite"] and r["state"]["finite"] and r["out"]["max_rel"] <= r["tol_out"]
    assert "32/32 checks passed" in done.stdout


def test_cuda_check_fails_on_a_wrong_kernel(monkeypatch):
    """A backend that is off by a little in its final state fails the check and the exit code."""
    from model.ops import cuda_check
    from model.ops.dispatch import Ops, load_backend

    good = load_backend("chunked")

    def bad_scan(*args, **kwargs):
        y, h = good.selective_scan(*args, **kwargs)
        return y, h * 1.01

    broken = Ops("chunked", bad_scan, good.causal_conv1d, good.selective_state_update,
                 good.causal_conv1d_update)
    monkeypatch.setattr(cuda_check, "get_ops", lambda n: broken if n == "chunked" else load_backend(n))
    argv = ["--device", "cpu", "--sizes", "tiny", "--backends", "chunked", "--require", ""]
    assert cuda_check.main(argv) == 1
    report = cuda_check.run("cpu", "tiny", ["chunked"], ["float32"])
    failed = {r["check"] for r in report["results"] if not r["ok"]}
    assert failed == {"scan", "scan +state", "scan chained", "scan decode"}


def test_transformers_twin_holds_our_tensors_and_computes_the_same_logits():
    from model.engine import Engine
    from model.jamba import JambaForCausalLM
    from model.weights import init_random_weights

    cfg = JambaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, num_experts=2, attn_layer_period=2,
                      attn_layer_offset=1)
    with torch.device("meta"):
        model = JambaForCausalLM(cfg)
    init_random_weights(model, cfg, seed=0)
    engine = Engine(model, None, cfg, kernels="reference")
    hf = hf_twin(engine)
    ours_ptrs = {p.data_ptr() for p in model.parameters()}
    assert all(p.data_ptr() in ours_ptrs for p in hf.parameters())  # no copy anywhere
    ids = torch.randint(3, 128, (1, 24), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = engine.prefill(ids, engine.new_cache(24), chunk=8)
        got = hf(ids, logits_to_keep=1).logits[:, -1].float()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    wider = JambaConfig(**{k: v for k, v in cfg.to_dict().items() if k not in ("model_type", "architectures")}
                        | {"hidden_size": 64})
    with torch.device("meta"):
        other, twin = JambaForCausalLM(wider), transformers.JambaForCausalLM(_hf_config(cfg))
    with pytest.raises(ValueError, match="no counterpart"):
        share_weights(other, twin)


def _bench(rows, **extra):
    return {"rows": rows, **extra}


def _cell(n, ttft, decode_ms=5.0, **kw):
    return {"ttft_s": ttft, "prefill_tok_s": n / ttft, "decode_ms_per_token": decode_ms, "tflops": 1.0,
            "peak_bytes": 1 << 30, **kw}


def test_summary_judges_each_target_and_says_what_was_not_measured(tmp_path, capsys):
    long = _bench([{"tokens": 131072, "ours": _cell(131072, 7.5, 13.0), "hf": None},
                   {"tokens": 262080, "ours": {"error": "did not finish in 170 s"}, "hf": None}])
    (tmp_path / "long.json").write_text(json.dumps(long))
    (tmp_path / "stages.jsonl").write_text('{"stage": "long", "rc": 0, "seconds": 100, "timeout_s": 300}\n')
    got = {t["target"]: t for t in proof.summarize(tmp_path)["targets"]}
    assert got["128K-token prefill, s"]["verdict"] == "PASS"
    assert got["decode at 128K context, ms/token"]["verdict"] == "FAIL"
    assert got["256K-token prefill fits, s"]["verdict"] == "not measured"
    assert "did not finish" in got["256K-token prefill fits, s"]["error"]
    assert got["prefill speedup over transformers at 8K, x"]["verdict"] == "not measured"
    hf = _bench([{"tokens": 8192, "ours": _cell(8192, 0.5), "hf": _cell(8192, 12.0)}], hf_weights="shared")
    (tmp_path / "hf.json").write_text(json.dumps(hf))
    joined = proof.summarize(tmp_path)
    speedup = {t["target"]: t for t in joined["targets"]}["prefill speedup over transformers at 8K, x"]
    assert speedup["verdict"] == "PASS" and speedup["value"] == pytest.approx(24.0)
    assert json.loads((tmp_path / "gpu_proof.json").read_text())["hf"]["rows"][0]["tokens"] == 8192
    proof.print_summary(joined)
    printed = capsys.readouterr().out
    assert "24.0x" in printed and "kernels: no result" in printed and "not measured" in printed
