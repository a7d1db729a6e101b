"""Triton selective scan (prefill) and selective state update (decode) for Mamba layers.

The scan runs one program per (batch, block of BLOCK_D channels), walking the T tokens in order with
the (BLOCK_D, N) state in float32 registers: the recurrence is sequential in T, the channels are
independent, so parallelism comes from B * D / BLOCK_D programs. Per token a program loads BLOCK_D
inputs; strides are honoured, so the usual layout (a transposed (B, T, D) projection, channels
contiguous) gives coalesced loads, and a (B, D, T) layout still reuses each cache line for 32-64 tokens.
Base offsets are computed in int64: at 256K tokens x 8K channels an int32 offset would overflow.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from model.ops.triton_common import _silu, _softplus, block_d, check_device, empty_like_layout


@triton.jit
def _selective_scan_kernel(
    u_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, dt_bias_ptr, h0_ptr, y_ptr, hT_ptr,
    T, DIM, NSTATE,
    s_ub, s_ud, s_ut, s_dtb, s_dtd, s_dtt, s_Ad, s_An, s_Bb, s_Bn, s_Bt, s_Cb, s_Cn, s_Ct,
    s_zb, s_zd, s_zt, s_h0b, s_h0d, s_h0n, s_yb, s_yd, s_yt,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DT_BIAS: tl.constexpr, HAS_H0: tl.constexpr,
    DT_SOFTPLUS: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    d0 = tl.program_id(1).to(tl.int64) * BLOCK_D
    offs_d = tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = d0 + offs_d < DIM
    mask_n = offs_n < NSTATE
    mask_dn = mask_d[:, None] & mask_n[None, :]

    A = tl.load(A_ptr + d0 * s_Ad + offs_d[:, None] * s_Ad + offs_n[None, :] * s_An, mask=mask_dn, other=0.0)
    A = A.to(tl.float32)
    if HAS_H0:
        h0_ptrs = h0_ptr + pid_b * s_h0b + d0 * s_h0d + offs_d[:, None] * s_h0d + offs_n[None, :] * s_h0n
        h = tl.load(h0_ptrs, mask=mask_dn, other=0.0).to(tl.float32)
    else:
        h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + d0 + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_DT_BIAS:
        dt_bias = tl.load(dt_bias_ptr + d0 + offs_d, mask=mask_d, other=0.0).to(tl.float32)

    # Per-token pointers, advanced by one token's stride each step (pointer arithmetic is 64-bit).
    u_ptrs = u_ptr + pid_b * s_ub + d0 * s_ud + offs_d * s_ud
    dt_ptrs = dt_ptr + pid_b * s_dtb + d0 * s_dtd + offs_d * s_dtd
    z_ptrs = z_ptr + pid_b * s_zb + d0 * s_zd + offs_d * s_zd
    y_ptrs = y_ptr + pid_b * s_yb + d0 * s_yd + offs_d * s_yd
    B_ptrs = B_ptr + pid_b * s_Bb + offs_n * s_Bn
    C_ptrs = C_ptr + pid_b * s_Cb + offs_n * s_Cn
    for _ in range(T):
        u = tl.load(u_ptrs, mask=mask_d, other=0.0).to(tl.float32)
        dt = tl.load(dt_ptrs, mask=mask_d, other=0.0).to(tl.float32)
        if HAS_DT_BIAS:
            dt += dt_bias
        if DT_SOFTPLUS:
            dt = _softplus(dt)
        Bt = tl.load(B_ptrs, mask=mask_n, other=0.0).to(tl.float32)
        Ct = tl.load(C_ptrs, mask=mask_n, other=0.0).to(tl.float32)
        h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * Bt[None, :]  # (BLOCK_D, BLOCK_N)
        y = tl.sum(h * Ct[None, :], axis=1)  # (BLOCK_D,)
        if HAS_D:
            y += Dv * u
        if HAS_Z:
            y *= _silu(tl.load(z_ptrs, mask=mask_d, other=0.0).to(tl.float32))
        tl.store(y_ptrs, y.to(y_ptr.dtype.element_ty), mask=mask_d)
        u_ptrs += s_ut
        dt_ptrs += s_dtt
        z_ptrs += s_zt
        y_ptrs += s_yt
        B_ptrs += s_Bt
        C_ptrs += s_Ct

    hT_ptrs = hT_ptr + pid_b * DIM * NSTATE + (d0 + offs_d[:, None]) * NSTATE + offs_n[None, :]
    tl.store(hT_ptrs, h, mask=mask_dn)


def _strides3(t: torch.Tensor | None) -> tuple[int, int, int]:
    return t.stride() if t is not None else (0, 0, 0)


def selective_scan_triton(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=True, initial_state=None
):
    """Same contract as ``model.ops.reference.selective_scan_ref``, as one Triton launch."""
    check_device(_selective_scan_kernel, u, delta, A, B, C, D, z, delta_bias, initial_state)
    batch, dim, length = u.shape
    d_state = A.shape[1]
    y = empty_like_layout(u)
    final_state = torch.empty((batch, dim, d_state), dtype=torch.float32, device=u.device)
    bd = block_d(batch, dim)
    grid = (batch, triton.cdiv(dim, bd))
    _selective_scan_kernel[grid](
        u, delta, A, B, C, D if D is not None else u, z if z is not None else u,
        delta_bias if delta_bias is not None else u, initial_state if initial_state is not None else u,
        y, final_state,
        length, dim, d_state,
        *u.stride(), *delta.stride(), *A.stride(), *B.stride(), *C.stride(),
        *_strides3(z), *_strides3(initial_state), *y.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_DT_BIAS=delta_bias is not None,
        HAS_H0=initial_state is not None, DT_SOFTPLUS=bool(delta_softplus),
        BLOCK_D=bd, BLOCK_N=triton.next_power_of_2(d_state), num_warps=4,
    )
    return y, final_state


@triton.jit
def _selective_state_update_kernel(
    state_ptr, x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, dt_bias_ptr, y_ptr,
    DIM, NSTATE,
    s_sb, s_sd, s_sn, s_xb, s_xd, s_dtb, s_dtd, s_Ad, s_An, s_Bb, s_Bn, s_Cb, s_Cn, s_zb, s_zd,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_DT_BIAS: tl.constexpr, DT_SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):
    pid_b = tl.program_id(0).to(tl.int64)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < DIM
    mask_n = offs_n < NSTATE
    mask_dn = mask_d[:, None] & mask_n[None, :]

    state_ptrs = state_ptr + pid_b * s_sb + offs_d[:, None] * s_sd + offs_n[None, :] * s_sn
    h = tl.load(state_ptrs, mask=mask_dn, other=0.0).to(tl.float32)
    x = tl.load(x_ptr + pid_b * s_xb + offs_d * s_xd, mask=mask_d, other=0.0).to(tl.float32)
    dt = tl.load(dt_ptr + pid_b * s_dtb + offs_d * s_dtd, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_DT_BIAS:
        dt += tl.load(dt_bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if DT_SOFTPLUS:
        dt = _softplus(dt)
    A = tl.load(A_ptr + offs_d[:, None] * s_Ad + offs_n[None, :] * s_An, mask=mask_dn, other=0.0)
    Bt = tl.load(B_ptr + pid_b * s_Bb + offs_n * s_Bn, mask=mask_n, other=0.0).to(tl.float32)
    Ct = tl.load(C_ptr + pid_b * s_Cb + offs_n * s_Cn, mask=mask_n, other=0.0).to(tl.float32)

    h = tl.exp(dt[:, None] * A.to(tl.float32)) * h + (dt * x)[:, None] * Bt[None, :]  # (BLOCK_D, BLOCK_N)
    y = tl.sum(h * Ct[None, :], axis=1)
    if HAS_D:
        y += tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32) * x
    if HAS_Z:
        y *= _silu(tl.load(z_ptr + pid_b * s_zb + offs_d * s_zd, mask=mask_d, other=0.0).to(tl.float32))
    # The state is updated in place: every thread must have read its old value before any is replaced.
    tl.debug_barrier()
    tl.store(state_ptrs, h.to(state_ptr.dtype.element_ty), mask=mask_dn)
    tl.store(y_ptr + pid_b * DIM + offs_d, y.to(y_ptr.dtype.element_ty), mask=mask_d)


def selective_state_update_triton(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=True):
    """Same contract as ``model.ops.reference.selective_state_update_ref``, as one Triton launch."""
    check_device(_selective_state_update_kernel, state, x, dt, A, B, C, D, z, dt_bias)
    batch, dim, d_state = state.shape
    y = torch.empty((batch, dim), dtype=x.dtype, device=x.device)
    bd = block_d(batch, dim, largest=64, smallest=16, programs=128)
    grid = (batch, triton.cdiv(dim, bd))
    _selective_state_update_kernel[grid](
        state, x, dt, A, B, C, D if D is not None else x, z if z is not None else x,
        dt_bias if dt_bias is not None else x, y,
        dim, d_state,
        *state.stride(), *x.stride(), *dt.stride(), *A.stride(), *B.stride(), *C.stride(),
        *(z.stride() if z is not None else (0, 0)),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_DT_BIAS=dt_bias is not None,
        DT_SOFTPLUS=bool(dt_softplus), BLOCK_D=bd, BLOCK_N=triton.next_power_of_2(d_state), num_warps=4,
    )
    return y
