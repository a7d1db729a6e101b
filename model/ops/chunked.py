"""Memory-bounded PyTorch kernels for the CPU: the scan runs T in chunks, never (B, D, T, N) at once.

Inside a chunk of L tokens the per-token factors exp(dt*A) and dt*u*B are computed in one vectorized pass
as (L, B, D, N) buffers, the recurrence is then a single fused ``addcmul`` per token writing straight into
a state-history buffer, and the outputs are one batched matmul against C. The log-space closed form
(cumulative sums of dt*A) was measured slower on CPU and overflows float32 once a chunk's decay passes
e^88, so the sequential recurrence stays. Peak extra memory is three (L, B, D, N) float32 buffers.

The decode-step ops have nothing to chunk; this backend uses the reference ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.ops.reference import (
    causal_conv1d_ref,
    causal_conv1d_update_ref,
    selective_state_update_ref,
)

# Elements per (L, B, D, N) buffer: 4M float32 = 16 MiB, so three buffers stay around 48 MiB whatever
# the model width; L is clamped to [16, 256] (shorter chunks pay Python overhead per chunk).
SCAN_BUFFER_ELEMENTS = 1 << 22
# Tokens per conv chunk: bounds the float32 working copy of a bf16 input to (B, D, 2048).
CONV_CHUNK = 2048


def scan_chunk_len(batch: int, dim: int, d_state: int) -> int:
    """Tokens per scan chunk for this problem size (a pure function, so memory can be planned)."""
    return max(16, min(256, SCAN_BUFFER_ELEMENTS // max(1, batch * dim * d_state)))


def selective_scan_chunked(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=True, initial_state=None
):
    """Same contract as ``model.ops.reference.selective_scan_ref``; memory O(B*D*L*N) for L-token chunks."""
    batch, dim, length = u.shape
    d_state = A.shape[1]
    chunk = scan_chunk_len(batch, dim, d_state)
    Af = A.float()
    if initial_state is None:
        h = u.new_zeros((batch, dim, d_state), dtype=torch.float32)
    else:
        h = initial_state.float().clone()
    y = torch.empty((batch, dim, length), dtype=u.dtype, device=u.device)
    buffers = torch.empty((3, min(chunk, length), batch, dim, d_state), dtype=torch.float32, device=u.device)
    for t0 in range(0, length, chunk):
        t1 = min(length, t0 + chunk)
        y_chunk, h = _scan_chunk(u[:, :, t0:t1], delta[:, :, t0:t1], Af, B[:, :, t0:t1], C[:, :, t0:t1],
                                 delta_bias, delta_softplus, h, buffers)
        if D is not None:
            y_chunk = y_chunk + D.float()[:, None] * u[:, :, t0:t1].float()
        if z is not None:
            y_chunk = y_chunk * F.silu(z[:, :, t0:t1].float())
        y[:, :, t0:t1] = y_chunk
    return y, h


def _scan_chunk(u, delta, A, B, C, delta_bias, delta_softplus, h, buffers):
    """Advance state h over one chunk of L tokens: returns (<h_t, C_t> as (B, D, L) float32, new h)."""
    length = u.shape[-1]
    dt = delta.float()
    if delta_bias is not None:
        dt = dt + delta_bias.float()[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    dt = dt.permute(2, 0, 1).contiguous()  # (L, B, D); contiguous operands keep the broadcasts fast
    decay, inject, states = buffers[0, :length], buffers[1, :length], buffers[2, :length]  # (L, B, D, N)
    torch.mul(dt[..., None], A, out=decay).exp_()
    dtu = (dt * u.float().permute(2, 0, 1)).contiguous()  # (L, B, D)
    torch.mul(dtu[..., None], B.float().permute(2, 0, 1).contiguous()[:, :, None, :], out=inject)
    for t in range(length):
        h = torch.addcmul(inject[t], decay[t], h, out=states[t])
    Ct = C.float().permute(2, 0, 1).contiguous()[..., None]  # (L, B, N, 1)
    y = torch.matmul(states, Ct)[..., 0]  # (L, B, D)
    return y.permute(1, 2, 0), h.clone()  # (B, D, L); h is a view of states: copy it out


def causal_conv1d_chunked(x, weight, bias=None, initial_state=None, activation="silu"):
    """Same contract as ``model.ops.reference.causal_conv1d_ref``, run CONV_CHUNK tokens at a time."""
    if x.shape[-1] <= CONV_CHUNK:
        return causal_conv1d_ref(x, weight, bias, initial_state, activation)
    y = torch.empty_like(x, memory_format=torch.contiguous_format)
    state = initial_state
    for t0 in range(0, x.shape[-1], CONV_CHUNK):
        t1 = t0 + CONV_CHUNK
        y[:, :, t0:t1], state = causal_conv1d_ref(x[:, :, t0:t1], weight, bias, state, activation)
    return y, state


selective_state_update_chunked = selective_state_update_ref
causal_conv1d_update_chunked = causal_conv1d_update_ref
