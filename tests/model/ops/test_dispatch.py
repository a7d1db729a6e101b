"""The dispatcher: names, the DOCQA_KERNELS override, the per-device auto choice, and useful errors."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.ops import dispatch, official
from model.ops.dispatch import get_ops
from model.ops.errors import KernelBackendUnavailable
from model.ops.reference import selective_scan_ref
from tests.model.ops.helpers import scan_inputs

REPO = Path(__file__).resolve().parents[3]


def test_named_backends_have_all_four_ops(monkeypatch):
    monkeypatch.delenv("DOCQA_KERNELS", raising=False)
    for name in ("reference", "chunked"):
        ops = get_ops(name)
        assert ops.name == name
        assert all(callable(f) for f in (ops.selective_scan, ops.causal_conv1d, ops.selective_state_update,
                                         ops.causal_conv1d_update))
    assert get_ops("reference").selective_scan is selective_scan_ref


def test_environment_variable_forces_a_backend_and_is_logged(monkeypatch, caplog):
    monkeypatch.setenv("DOCQA_KERNELS", "reference")
    with caplog.at_level(logging.INFO, logger="model.ops.dispatch"):
        ops = get_ops()
    assert ops.name == "reference"
    assert "reference" in caplog.text and "DOCQA_KERNELS" in caplog.text
    assert get_ops("chunked").name == "chunked", "an explicit argument wins over the environment"


def test_auto_runs_cpu_tensors_on_the_chunked_backend_and_logs_the_choice_once(monkeypatch, caplog):
    monkeypatch.delenv("DOCQA_KERNELS", raising=False)
    dispatch._ops_for_device.cache_clear()
    ops = get_ops()
    assert ops.name == "auto"
    inp = scan_inputs(1, 4, 4, 3)
    with caplog.at_level(logging.INFO, logger="model.ops.dispatch"):
        y, h = ops.selective_scan(**inp)
        ops.selective_scan(**inp)
    picks = [r.getMessage() for r in caplog.records if "auto backend" in r.getMessage()]
    assert picks == ["kernels: auto backend for cpu tensors is chunked"]
    y_ref, h_ref = selective_scan_ref(**inp)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ValueError, match="reference, chunked, triton, official"):
        get_ops("cuda-fast")


@pytest.mark.skipif(official.AVAILABLE, reason="mamba-ssm and causal-conv1d are installed here")
def test_missing_official_backend_says_how_to_install_it():
    with pytest.raises(KernelBackendUnavailable, match="pip install mamba-ssm causal-conv1d"):
        get_ops("official")


@pytest.mark.skipif(torch.cuda.is_available(), reason="compiled Triton runs here")
def test_triton_on_a_cpu_without_the_interpreter_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "DOCQA_KERNELS")}
    code = (
        "from model.ops.dispatch import get_ops\n"
        "try:\n    get_ops('triton')\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.startswith("KernelBackendUnavailable"), out.stdout + out.stderr
    assert "CUDA" in out.stdout and "TRITON_INTERPRET=1" in out.stdout
