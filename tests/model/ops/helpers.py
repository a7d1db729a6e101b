"""Inputs shaped like a Jamba Mamba layer's, and per-dtype comparisons against the reference."""

from __future__ import annotations

import pytest
import torch

from model.ops.dispatch import get_ops
from model.ops.errors import KernelBackendUnavailable

# Max |actual - expected| allowed, relative to max |expected| (at least 1). Outputs in bf16 are rounded
# to 8 mantissa bits by every backend, so they may differ by an ulp; states stay fp32 in every backend.
OUT_TOL = {torch.float32: 2e-5, torch.bfloat16: 1e-2}
STATE_TOL = 2e-5


def ops_or_skip(backend: str):
    """The backend's ops, or a skip that says why it cannot run on this machine."""
    try:
        return get_ops(backend)
    except KernelBackendUnavailable as e:
        pytest.skip(str(e))


def device_for(backend: str) -> str:
    """The official kernels and compiled Triton take CUDA tensors; interpreted Triton runs on the CPU."""
    if not torch.cuda.is_available() or backend not in ("triton", "official"):
        return "cpu"
    from model.ops import triton_scan
    from model.ops.triton_common import is_interpreted

    return "cpu" if backend == "triton" and is_interpreted(triton_scan._selective_scan_kernel) else "cuda"


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a, e = actual.detach().cpu().float(), expected.detach().cpu().float()
    assert torch.isfinite(a).all(), f"{what}: non-finite values"
    err = (a - e).abs().max().item() if a.numel() else 0.0
    scale = max(1.0, e.abs().max().item() if e.numel() else 0.0)
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol:g} x {scale:.3g}"


def scan_inputs(batch, dim, d_state, length, dtype=torch.float32, device="cpu", seed=0, state=True):
    """Random scan inputs at the scales a Mamba layer sees: softplus(dt) ~ 0.1-1, A from -1 to -16."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.randn(*shape, generator=g) * scale + shift).to(device)

    A_log = torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(dim, 1)
    A_log = A_log + 0.1 * torch.randn(dim, d_state, generator=g)
    return dict(
        u=rand(batch, dim, length).to(dtype),
        delta=rand(batch, dim, length, scale=0.5, shift=-1.0).to(dtype),
        A=(-torch.exp(A_log)).to(device),
        B=rand(batch, d_state, length).to(dtype),
        C=rand(batch, d_state, length).to(dtype),
        D=rand(dim),
        z=rand(batch, dim, length).to(dtype),
        delta_bias=rand(dim, scale=0.3),
        initial_state=rand(batch, dim, d_state) if state else None,
    )


def conv_inputs(batch, dim, width, length, dtype=torch.float32, device="cpu", seed=0, state=True):
    g = torch.Generator().manual_seed(seed)
    return dict(
        x=torch.randn(batch, dim, length, generator=g).to(device, dtype),
        weight=(torch.randn(dim, width, generator=g) / width).to(device, dtype),
        bias=torch.randn(dim, generator=g).to(device, dtype),
        initial_state=torch.randn(batch, dim, width - 1, generator=g).to(device, dtype) if state else None,
    )


def time_slice(inputs: dict, t0: int, t1: int) -> dict:
    """The same inputs restricted to tokens [t0, t1) (the last axis of every (B, *, T) tensor)."""
    out = dict(inputs)
    for k in ("u", "delta", "B", "C", "z", "x"):
        if k in out and out[k] is not None:
            out[k] = out[k][..., t0:t1]
    return out
