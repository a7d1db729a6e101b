"""Helpers shared by the Triton kernels: device checks, output layouts, numerics that match PyTorch."""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

from model.ops.errors import KernelBackendUnavailable


def is_interpreted(kernel) -> bool:
    """True when the kernel was defined under TRITON_INTERPRET=1: it then runs on CPU tensors, in numpy."""
    return isinstance(kernel, InterpretedFunction)


def check_device(kernel, *tensors: torch.Tensor | None) -> None:
    """Compiled kernels need CUDA tensors; the interpreter (TRITON_INTERPRET=1 at import) takes any."""
    if is_interpreted(kernel):
        return
    for t in tensors:
        if t is not None and not t.is_cuda:
            raise KernelBackendUnavailable(
                "the triton kernel backend needs CUDA tensors (or TRITON_INTERPRET=1, set before triton is "
                "imported, with CPU tensors for testing); use DOCQA_KERNELS=chunked on a CPU"
            )


def empty_like_layout(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An empty (B, D, T) tensor whose channels are contiguous when x's are.

    Activations usually arrive as a transposed (B, T, D) projection output; keeping D fastest gives
    coalesced per-token loads and stores and lets the next projection read the result without a copy.
    """
    batch, dim, length = x.shape
    dtype = dtype or x.dtype
    if x.stride(1) == 1 and length > 1:
        return torch.empty((batch, length, dim), dtype=dtype, device=x.device).transpose(1, 2)
    return torch.empty((batch, dim, length), dtype=dtype, device=x.device)


def block_d(batch: int, dim: int, largest: int = 64, smallest: int = 16, programs: int = 256) -> int:
    """Channel block: the largest power of two that still gives the GPU `programs` programs to spread.

    Untuned default (256 programs = about two per H200 SM); the GPU benchmark is where to tune it.
    """
    size = largest
    while size > smallest and batch * triton.cdiv(dim, size) < programs:
        size //= 2
    return size


@triton.jit
def _softplus(x):
    """PyTorch's softplus (threshold 20) with an accurate log1p.

    log1p is written out (Goldberg's trick: log(u) * e / (u - 1) with u = 1 + e) because plain
    log(1 + e) loses all precision for the small dt Mamba uses (dt ~ 1e-3 gives 6e-5 relative error),
    and libdevice's log1p does not run under the interpreter the CPU tests use.
    """
    e = tl.exp(tl.minimum(x, 20.0))  # clamped: the x > 20 branch does not need it, and inf would make NaNs
    u = 1.0 + e
    log1p = tl.where(u == 1.0, e, tl.log(u) * (e / tl.where(u == 1.0, 1.0, u - 1.0)))
    return tl.where(x > 20.0, x, log1p)


@triton.jit
def _silu(x):
    return x * tl.sigmoid(x)
