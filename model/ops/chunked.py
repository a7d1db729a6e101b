"""Memory-bounded PyTorch kernels for the CPU: the scan runs T in chunks, never (B, D, T, N) at once.

Inside a chunk of L tokens the per-token factors exp(dt*A) and dt*u*B are computed in one vectorized pass
as (L, B, N, D) buffers (D innermost: with N=16 innermost the broadcasts ran on 16-element rows and cost
several times more), the recurrence runs in place in a two-level blocked form (``_recur``), and the
outputs are one batched matmul against C. Peak extra memory is two (L, B, N, D) float32 buffers.

Why not the log-space closed form h_t = exp(c_t) * (h0 + cumsum_s(exp(-c_s) * dt_s*u_s*B_s)), c = cumsum
(dt*A)? It was built and measured here (1 thread, B=1, N=16, CPU time, against the previous per-token
loop): with Mamba-like small dt at D=128 it was no faster (23.8 vs 25.1 ms for 2048 tokens), because
it adds a full-size cumsum (0.75 ns/element along the last axis; ~9 ns/element along the token axis of a
token-major buffer) to the exp (0.84 ns/element) both forms pay, and five more passes; with dt ~ 0.3
and |A| up to 16 (the test inputs), chunks had to be split wherever the decay passed float32's exp range,
and it ran 3.6x slower (81.6 vs 22.9 ms). The blocked recurrence needs no exp of cumulative sums, so it
cannot overflow for any A and dt, and it measured 1.7-1.8x faster than the per-token loop at D=128.

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

# Elements per (L, B, N, D) buffer: 4M float32 = 16 MiB, so the two buffers stay around 32 MiB whatever
# the model width; L is clamped to [16, 256] (shorter chunks pay Python overhead per chunk).
SCAN_BUFFER_ELEMENTS = 1 << 22
# Tokens per inner block of the two-level scan, used while one token's state (B*D*N elements) is small
# enough that a torch call's fixed cost (~2-4 us) outweighs its arithmetic; wider states run token by
# token, where the blocked form's extra passes cost more than the calls they save. Measured at 1 thread:
# B*D*N = 2048 (tiny model) blocked 1.3x faster than token by token, block 8-32 and L 128-512 within
# noise of each other; 8192 even; 131072 (Jamba width) 4% slower blocked.
SCAN_BLOCK = 16
SCAN_BLOCK_MAX_STATE = 1 << 14
# Tokens per conv chunk: bounds the float32 working copy of a bf16 input to (B, D, 2048).
CONV_CHUNK = 2048


def scan_chunk_len(batch: int, dim: int, d_state: int) -> int:
    """Tokens per scan chunk for this problem size (a pure function, so memory can be planned)."""
    return max(16, min(256, SCAN_BUFFER_ELEMENTS // max(1, batch * dim * d_state)))


def scan_block_len(batch: int, dim: int, d_state: int) -> int:
    """Tokens per inner block of a chunk (1: plain token-by-token recurrence)."""
    return SCAN_BLOCK if batch * dim * d_state <= SCAN_BLOCK_MAX_STATE else 1


def selective_scan_chunked(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=True, initial_state=None
):
    """Same contract as ``model.ops.reference.selective_scan_ref``; memory O(B*D*L*N) for L-token chunks."""
    batch, dim, length = u.shape
    d_state = A.shape[1]
    chunk = scan_chunk_len(batch, dim, d_state)
    block = scan_block_len(batch, dim, d_state)
    At = A.float().t().contiguous()  # (N, D): D innermost keeps every broadcast below on long rows
    if initial_state is None:
        h = u.new_zeros((batch, d_state, dim), dtype=torch.float32)
    else:
        h = initial_state.float().transpose(1, 2).contiguous()  # (B, N, D)
    y = torch.empty((batch, dim, length), dtype=u.dtype, device=u.device)
    buffers = torch.empty((2, min(chunk, length), batch, d_state, dim), dtype=torch.float32, device=u.device)
    for t0 in range(0, length, chunk):
        t1 = min(length, t0 + chunk)
        tok = slice(t0, t1)
        uc = u[:, :, tok].float().permute(2, 0, 1).contiguous()  # (L, B, D)
        y_chunk, h = _scan_chunk(uc, delta[:, :, tok], At, B[:, :, tok], C[:, :, tok], delta_bias,
                                 delta_softplus, h, buffers, block)
        if D is not None:
            y_chunk = y_chunk.addcmul_(uc, D.float())
        if z is not None:
            y_chunk = y_chunk.mul_(F.silu(z[:, :, tok].float().permute(2, 0, 1)))
        y[:, :, tok] = y_chunk.permute(1, 2, 0)
    return y, h.transpose(1, 2).contiguous()


def _scan_chunk(u, delta, At, B, C, delta_bias, delta_softplus, h, buffers, block):
    """Advance h (B, N, D) over one chunk of L tokens: returns (<h_t, C_t> as (L, B, D) float32, new h)."""
    length = u.shape[0]
    dt = delta.float().permute(2, 0, 1).contiguous()  # (L, B, D); strided rows make the broadcasts slow
    if delta_bias is not None:
        dt = dt + delta_bias.float()
    if delta_softplus:
        dt = F.softplus(dt)
    decay, states = buffers[0, :length], buffers[1, :length]  # (L, B, N, D)
    torch.mul(dt[:, :, None, :], At, out=decay).exp_()
    Bt = B.float().permute(2, 0, 1).contiguous()  # (L, B, N)
    torch.mul((dt * u)[:, :, None, :], Bt[..., None], out=states)
    h = _recur(decay, states, h, block)
    Ct = C.float().permute(2, 0, 1).contiguous()[:, :, None, :]  # (L, B, 1, N)
    return torch.matmul(Ct, states)[:, :, 0], h  # (L, B, D)


def _recur(decay, states, h, block):
    """states[t] <- decay[t] * states[t-1] + states[t] in place, from h; returns the last state (a copy).

    Two levels, both exact reorderings of the same products and sums (no exp of cumulative decays, so no
    overflow whatever A and dt are): within blocks of Q tokens, all blocks of the chunk advance together
    from a zero state while decay[q] becomes the product of the block's decays up to q; then each block
    adds its carried-in state times that product, one block at a time. 2Q + L/Q calls instead of L.
    """
    length = decay.shape[0]
    q = block if length >= 2 * block else 1
    p = length // q if q > 1 else 0
    if p:
        dv = decay[: p * q].unflatten(0, (p, q))  # (P, Q, B, N, D)
        sv = states[: p * q].unflatten(0, (p, q))
        for i in range(1, q):
            sv[:, i].addcmul_(dv[:, i], sv[:, i - 1])
            dv[:, i].mul_(dv[:, i - 1])
        for j in range(p):
            h = sv[j].addcmul_(dv[j], h)[-1]
    for t in range(p * q, length):  # the tail shorter than a block, or every token when q == 1
        h = states[t].addcmul_(decay[t], h)
    return h.clone()  # a view of states: copy it out before the buffer is reused


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
