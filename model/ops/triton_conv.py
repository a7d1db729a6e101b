"""Triton depthwise causal conv1d (prefill) and its one-token update (decode) for Mamba layers.

The prefill conv has no recurrence: each output token needs only the W inputs ending at it, so the
grid tiles (batch, channel block, token block) and every tile is independent. A tile reads W shifted
(BLOCK_D, BLOCK_T) windows of x (the overlap hits cache), taking the first W-1 positions before the
chunk from the initial state. The programs holding the first token block also write the final state,
the last W-1 inputs of [initial_state, x], so chunked prefill chains exactly.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from model.ops.triton_common import _silu, block_d, check_device, empty_like_layout


@triton.jit(do_not_specialize=["T"])  # T == 1 would become a constexpr without .to()
def _causal_conv1d_kernel(
    x_ptr, w_ptr, bias_ptr, h0_ptr, y_ptr, hT_ptr,
    T, DIM,
    s_xb, s_xd, s_xt, s_wd, s_ww, s_h0b, s_h0d, s_h0w, s_yb, s_yd, s_yt,
    W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_H0: tl.constexpr, SILU: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_W: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    d0 = tl.program_id(1).to(tl.int64) * BLOCK_D
    t0 = tl.program_id(2).to(tl.int64) * BLOCK_T
    offs_d = tl.arange(0, BLOCK_D)
    offs_t = tl.arange(0, BLOCK_T)
    mask_d = d0 + offs_d < DIM
    x_base = x_ptr + pid_b * s_xb + d0 * s_xd + t0 * s_xt
    h0_base = h0_ptr + pid_b * s_h0b + d0 * s_h0d

    acc = tl.zeros((BLOCK_D, BLOCK_T), dtype=tl.float32)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + d0 + offs_d, mask=mask_d, other=0.0).to(tl.float32)[:, None]
    for k in tl.static_range(W):
        # Tap k reads input position t + k - (W-1): negative positions come from the initial state.
        shift = k - (W - 1)
        src = t0 + offs_t + shift  # (BLOCK_T,) token index into x
        in_x = (src >= 0) & (src < T)
        xv = tl.load(x_base + offs_d[:, None] * s_xd + (offs_t + shift)[None, :] * s_xt,
                     mask=mask_d[:, None] & in_x[None, :], other=0.0).to(tl.float32)
        if HAS_H0:
            in_h0 = src < 0
            hv = tl.load(h0_base + offs_d[:, None] * s_h0d + (src + W - 1)[None, :] * s_h0w,
                         mask=mask_d[:, None] & in_h0[None, :], other=0.0).to(tl.float32)
            xv += hv
        wk = tl.load(w_ptr + (d0 + offs_d) * s_wd + k * s_ww, mask=mask_d, other=0.0).to(tl.float32)
        acc += wk[:, None] * xv
    if SILU:
        acc = _silu(acc)
    mask_t = t0 + offs_t < T
    y_ptrs = y_ptr + pid_b * s_yb + (d0 + offs_d[:, None]) * s_yd + (t0 + offs_t[None, :]) * s_yt
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=mask_d[:, None] & mask_t[None, :])

    if tl.program_id(2) == 0:
        _write_final_state(x_ptr, h0_ptr, hT_ptr, pid_b, d0, T, DIM, s_xb, s_xd, s_xt, s_h0b, s_h0d, s_h0w,
                           W, HAS_H0, BLOCK_D, BLOCK_W)


@triton.jit
def _write_final_state(x_ptr, h0_ptr, hT_ptr, pid_b, d0, T, DIM, s_xb, s_xd, s_xt, s_h0b, s_h0d, s_h0w,
                       W: tl.constexpr, HAS_H0: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_W: tl.constexpr):
    """Final state (B, D, W-1): the last W-1 of [initial_state, x]; from the state only when T < W-1."""
    offs_d = tl.arange(0, BLOCK_D)
    cols = tl.arange(0, BLOCK_W)
    mask = (d0 + offs_d < DIM)[:, None] & (cols < W - 1)[None, :]
    src = (T - (W - 1) + cols).to(tl.int64)  # (BLOCK_W,) token index into x; negative: in the initial state
    x_rows = x_ptr + pid_b * s_xb + (d0 + offs_d[:, None]) * s_xd
    val = tl.load(x_rows + src[None, :] * s_xt, mask=mask & (src >= 0)[None, :], other=0.0)
    if HAS_H0:
        h0_rows = h0_ptr + pid_b * s_h0b + (d0 + offs_d[:, None]) * s_h0d
        h0_val = tl.load(h0_rows + (src + W - 1)[None, :] * s_h0w, mask=mask & (src < 0)[None, :], other=0.0)
        val += h0_val.to(val.dtype)
    out = hT_ptr + (pid_b * DIM + d0 + offs_d[:, None]) * (W - 1) + cols[None, :]
    tl.store(out, val.to(hT_ptr.dtype.element_ty), mask=mask)


def causal_conv1d_triton(x, weight, bias=None, initial_state=None, activation="silu"):
    """Same contract as ``model.ops.reference.causal_conv1d_ref``, as one Triton launch."""
    check_device(_causal_conv1d_kernel, x, weight, bias, initial_state)
    silu = _is_silu(activation)
    batch, dim, length = x.shape
    width = weight.shape[1]
    y = empty_like_layout(x)
    final_state = torch.empty((batch, dim, width - 1), dtype=x.dtype, device=x.device)
    # Channels-contiguous input: wide channel blocks give coalesced rows; token-contiguous: wide T blocks.
    bd, bt = (64, 32) if x.stride(1) == 1 else (16, 128)
    grid = (batch, triton.cdiv(dim, bd), max(1, triton.cdiv(length, bt)))
    h0 = initial_state if initial_state is not None else x
    _causal_conv1d_kernel[grid](
        x, weight, bias if bias is not None else weight, h0, y, final_state,
        length, dim,
        *x.stride(), *weight.stride(), *(h0.stride() if initial_state is not None else (0, 0, 0)),
        *y.stride(),
        W=width, HAS_BIAS=bias is not None, HAS_H0=initial_state is not None, SILU=silu,
        BLOCK_D=bd, BLOCK_T=bt, BLOCK_W=triton.next_power_of_2(width), num_warps=4,
    )
    return y, final_state


@triton.jit
def _causal_conv1d_update_kernel(
    x_ptr, state_ptr, w_ptr, bias_ptr, y_ptr,
    DIM,
    s_xb, s_xd, s_sb, s_sd, s_sw, s_wd, s_ww,
    W: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_W: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    cols = tl.arange(0, BLOCK_W)
    mask_d = offs_d < DIM
    rows = state_ptr + pid_b * s_sb + offs_d[:, None] * s_sd  # (BLOCK_D, 1)

    x = tl.load(x_ptr + pid_b * s_xb + offs_d * s_xd, mask=mask_d, other=0.0)
    in_state = mask_d[:, None] & (cols[None, :] < W - 1)
    old = tl.load(rows + cols[None, :] * s_sw, mask=in_state, other=0.0).to(tl.float32)
    window = old + tl.where(cols[None, :] == W - 1, x.to(tl.float32)[:, None], 0.0)  # (BLOCK_D, BLOCK_W)
    w = tl.load(w_ptr + offs_d[:, None] * s_wd + cols[None, :] * s_ww,
                mask=mask_d[:, None] & (cols[None, :] < W), other=0.0).to(tl.float32)
    y = tl.sum(window * w, axis=1)
    if HAS_BIAS:
        y += tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if SILU:
        y = _silu(y)
    # New state = old shifted left by one, x appended; read the shifted view before anything is written.
    shifted = tl.load(rows + (cols[None, :] + 1) * s_sw, mask=mask_d[:, None] & (cols[None, :] < W - 2),
                      other=0.0)
    new = tl.where(cols[None, :] == W - 2, x[:, None].to(shifted.dtype), shifted)
    tl.debug_barrier()
    tl.store(rows + cols[None, :] * s_sw, new, mask=in_state)
    tl.store(y_ptr + pid_b * DIM + offs_d, y.to(y_ptr.dtype.element_ty), mask=mask_d)


def causal_conv1d_update_triton(x, conv_state, weight, bias=None, activation="silu"):
    """Same contract as ``model.ops.reference.causal_conv1d_update_ref``, as one Triton launch."""
    check_device(_causal_conv1d_update_kernel, x, conv_state, weight, bias)
    silu = _is_silu(activation)
    batch, dim = x.shape
    width = weight.shape[1]
    y = torch.empty((batch, dim), dtype=x.dtype, device=x.device)
    bd = block_d(batch, dim, largest=256, smallest=64, programs=128)
    grid = (batch, triton.cdiv(dim, bd))
    _causal_conv1d_update_kernel[grid](
        x, conv_state, weight, bias if bias is not None else weight, y,
        dim,
        *x.stride(), *conv_state.stride(), *weight.stride(),
        W=width, HAS_BIAS=bias is not None, SILU=silu,
        BLOCK_D=bd, BLOCK_W=triton.next_power_of_2(width), num_warps=4,
    )
    return y


def _is_silu(activation: str | None) -> bool:
    if activation in ("silu", "swish"):
        return True
    if activation is None:
        return False
    raise ValueError(f"unsupported conv activation {activation!r}; use 'silu' or None")
