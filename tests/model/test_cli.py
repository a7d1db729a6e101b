"""``python -m model {plan,bench,generate}`` and the benchmark harness, on the tiny checkpoint."""

import json

import pytest
import torch

from model.bench import _row, prefill_flops
from model.cli import RANDOM_LABEL, main
from model.config import JambaConfig
from model.layout import count_active_parameters
from model.tiny import build_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "tiny", seed=0)


def _run(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def test_plan_command(capsys, ckpt):
    code, out, _ = _run(
        ["plan", "--preset", "jamba-mini", "--dtype", "bfloat16", "--gpu-mem", "141GB"], capsys
    )
    assert code == 0
    assert "51,570,323,328" in out and "16 KiB per token" in out and "max context       262,144 tokens" in out
    code, out, err = _run(
        ["plan", "--preset", "jamba-mini", "--gpu-mem", "110GB", "--tokens", "5000"], capsys
    )
    assert code == 1 and "limited by GPU memory" in out
    assert "refused: request of 5,000 tokens needs" in err
    code, out, _ = _run(["plan", "--model", str(ckpt), "--gpu-mem", "16GiB", "--tokens", "262144"], capsys)
    assert code == 0 and "a request of 262,144 tokens fits" in out


def test_plan_without_a_gpu_asks_for_the_memory_size(capsys):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: its size is used")
    code, _, err = _run(["plan", "--preset", "jamba-mini"], capsys)
    assert code == 2 and "--gpu-mem" in err


def test_generate_streams_labelled_text(capsys, ckpt):
    code, out, err = _run(
        ["generate", "--model", str(ckpt), "--prompt", "Dose of metformin?", "--max-tokens", "6"], capsys
    )
    assert code == 0 and RANDOM_LABEL in err
    assert out.endswith("\n")
    code, _, err = _run(["generate", "--model", str(ckpt / "missing"), "--prompt", "x"], capsys)
    assert code == 2 and "checkpoint folder not found" in err


def test_prefill_flops_by_hand():
    cfg = JambaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_experts=1,
        attn_layer_period=2,
        attn_layer_offset=1,
    )
    n = 10
    matmul_params = count_active_parameters(cfg) - 2 * 100 * 32
    attention = 1 * 4 * 4 * 8 * n * (n + 1) / 2  # one attention layer, 4 heads of 8 dims
    scan = 1 * 9 * 64 * 16 * n
    assert prefill_flops(cfg, n) == 2 * matmul_params * n + 2 * 100 * 32 + attention + scan


def test_bench_runs_ours_and_transformers_side_by_side(capsys, ckpt, tmp_path):
    out_json = tmp_path / "bench.json"
    argv = [
        "bench",
        "--model",
        str(ckpt),
        "--lengths",
        "48",
        "--hf-max",
        "48",
        "--decode",
        "2",
        "--threads",
        "1",
        "--json",
        str(out_json),
    ]
    code, out, _ = _run(argv, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("tokens | ours prefill tok/s")
    assert lines[1].endswith("speedup | attention s (ours / HF) | speedup bound")
    assert lines[2].strip().startswith("48 |") and lines[2].endswith("x")  # speedup and bound when both ran
    (row,) = json.loads(out_json.read_text())["rows"]
    for r in (row["ours"], row["hf"]):
        assert r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0 and r["peak_bytes"] > 50 << 20
        assert 0 <= r["request_bytes"] < r["peak_bytes"]
        assert 0 < r["attention_s"] < r["ttft_s"] * 5  # one extra prefill, timed inside attention only
    assert row["ours"]["kernels"] in ("auto (chunked)", "chunked")


def test_bench_rows_show_skipped_and_failed_runs():
    ours = {
        "prefill_tok_s": 1000.0,
        "ttft_s": 0.5,
        "peak_bytes": 300 << 20,
        "request_bytes": 9 << 20,
        "decode_tok_s": 50.0,
    }
    assert _row(4096, ours, None, cuda=False).endswith("(skipped) |  |  |  | - | - | -")
    assert "did not finish in 60 s" in _row(4096, ours, {"error": "did not finish in 60 s"}, cuda=False)
    hf = {**ours, "prefill_tok_s": 100.0}
    assert _row(4096, ours, hf, cuda=False).endswith("10.0x | - | -")  # no attention times: no bound
    timed = _row(4096, {**ours, "attention_s": 0.2}, {**hf, "ttft_s": 5.0, "attention_s": 0.25}, cuda=False)
    assert timed.endswith("10.0x | 0.20 / 0.25 | 25.0x")  # 5 s over the faster attention, 0.2 s
    assert " 300 (+9) " in _row(4096, ours, hf, cuda=False)


def test_random_weights_preset_path_runs_both_engines_on_the_same_weights(monkeypatch):
    """The GPU benchmark's path (--preset --random-weights), exercised on the CPU with a small shape."""
    from model import bench
    from model.config import PRESETS

    small = JambaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_experts=2,
        attn_layer_period=2,
        attn_layer_offset=1,
    )
    monkeypatch.setitem(PRESETS, "small-test", small)
    spec = {
        "model": None,
        "preset": "small-test",
        "device": "cpu",
        "dtype": "float32",
        "decode": 3,
        "chunk": 16,
        "threads": None,
        "length": 40,
    }
    ours = bench.worker({**spec, "engine": "ours"})
    hf = bench.worker({**spec, "engine": "hf"})
    for r in (ours, hf):
        assert r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0 and r["tflops"] > 0
    engine = bench._build_ours(spec)
    model, _ = bench._build_hf(spec)
    ids = bench._prompt(128, 40)
    with torch.inference_mode():
        expected = model(ids, logits_to_keep=1).logits[:, -1]
    got = engine.prefill(ids, engine.new_cache(40), chunk=16)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
