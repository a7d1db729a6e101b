"""The official CUDA kernels (``mamba-ssm``, ``causal-conv1d``) behind our four signatures, when installed.

They take no initial state for the prefill ops, so these wrappers call them only when the incoming state
is None or all zeros (the first prefill chunk) and hand every other call to our Triton kernels; the
result is always correct, and the fast path is taken where it can be. Final states come from mamba's
``return_last_state`` and, for the conv, from the tail of x (zero-padded when T < W-1).

The one-token conv update always uses our Triton kernel: causal-conv1d's update kernel changed its
state layout between releases (W vs W-1 columns) and has nothing to gain on a single token.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.ops.errors import KernelBackendUnavailable

try:  # optional: CUDA builds only
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    from mamba_ssm.ops.triton.selective_state_update import selective_state_update as _mamba_state_update
except (ImportError, OSError, RuntimeError):
    selective_scan_fn = None
    _mamba_state_update = None

try:  # optional: CUDA builds only
    from causal_conv1d import causal_conv1d_fn
except (ImportError, OSError, RuntimeError):
    causal_conv1d_fn = None

AVAILABLE = selective_scan_fn is not None and _mamba_state_update is not None and causal_conv1d_fn is not None
INSTALL_HINT = "pip install mamba-ssm causal-conv1d (CUDA machines only)"


def _require() -> None:
    if not AVAILABLE:
        raise KernelBackendUnavailable(f"the official kernel backend is not installed: {INSTALL_HINT}")


def _has_state(state: torch.Tensor | None) -> bool:
    # One device sync per prefill chunk and layer: negligible next to the chunk's own work.
    return state is not None and bool(state.any())


def selective_scan_official(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=True, initial_state=None
):
    """Same contract as ``model.ops.reference.selective_scan_ref``; mamba-ssm's CUDA scan when stateless."""
    _require()
    if _has_state(initial_state):
        from model.ops.triton_scan import selective_scan_triton

        return selective_scan_triton(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state)
    y, last_state = selective_scan_fn(
        u, delta, A.float(), B, C, None if D is None else D.float(), z,
        None if delta_bias is None else delta_bias.float(), delta_softplus=bool(delta_softplus),
        return_last_state=True,
    )
    return y, last_state.float()


def causal_conv1d_official(x, weight, bias=None, initial_state=None, activation="silu"):
    """Same contract as ``model.ops.reference.causal_conv1d_ref``; causal-conv1d's conv when stateless."""
    _require()
    if _has_state(initial_state):
        from model.ops.triton_conv import causal_conv1d_triton

        return causal_conv1d_triton(x, weight, bias, initial_state, activation)
    y = causal_conv1d_fn(x, weight, bias, activation=activation)
    width = weight.shape[1]
    tail = x[:, :, max(0, x.shape[-1] - (width - 1)):]
    final_state = F.pad(tail, (width - 1 - tail.shape[-1], 0)).contiguous()  # zeros stand for the empty state
    return y, final_state


def selective_state_update_official(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=True):
    """Same contract as ``model.ops.reference.selective_state_update_ref``: mamba-ssm's decode kernel."""
    _require()
    return _mamba_state_update(
        state, x, dt, A, B, C, D=D, z=z, dt_bias=dt_bias, dt_softplus=bool(dt_softplus)
    )


def causal_conv1d_update_official(x, conv_state, weight, bias=None, activation="silu"):
    """Same contract as ``model.ops.reference.causal_conv1d_update_ref``: our Triton kernel (see above)."""
    from model.ops.triton_conv import causal_conv1d_update_triton

    return causal_conv1d_update_triton(x, conv_state, weight, bias, activation)
