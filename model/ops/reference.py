"""Pure-PyTorch reference kernels: the definition every faster backend is tested against.

Written for clarity, not speed: the scan is a plain loop over tokens with the state in float32.
Shape letters: B batch, D channels (d_inner), N SSM state size, W conv width, T tokens.
Each fast backend exposes these four functions with the same signatures and semantics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _activate(y: torch.Tensor, activation: str | None) -> torch.Tensor:
    if activation is None:
        return y
    if activation in ("silu", "swish"):
        return F.silu(y)
    raise ValueError(f"unsupported conv activation {activation!r}; use 'silu' or None")


def _discretize_dt(dt: torch.Tensor, bias: torch.Tensor | None, softplus: bool) -> torch.Tensor:
    """dt (B, D, ...) in float32, plus the per-channel bias, through softplus (threshold 20) if asked."""
    dt = dt.float()
    if bias is not None:
        dt = dt + bias.float().view(-1, *([1] * (dt.dim() - 2)))
    return F.softplus(dt) if softplus else dt


def selective_scan_ref(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=True, initial_state=None
):
    """Mamba's selective scan over T tokens, carrying an SSM state in and out.

    u, delta, z: (B, D, T); A: (D, N) float32, already ``-exp(A_log)``; B, C: (B, N, T), one group
    shared by all channels (Jamba); D, delta_bias: (D,); initial_state: (B, D, N) float32 or None (zeros).
    Recurrence per token t: h = exp(dt*A) * h + dt * B_t * u_t;  y_t = <h, C_t> + D*u_t, times silu(z_t).
    Returns (y (B, D, T) in u.dtype, final_state (B, D, N) float32). The state accumulates in float32
    whatever the input dtype, so a bf16 model carries no rounding from chunk to chunk.
    """
    batch, dim, length = u.shape
    dt = _discretize_dt(delta, delta_bias, delta_softplus)  # (B, D, T)
    uf, Bf, Cf, Af = u.float(), B.float(), C.float(), A.float()
    if initial_state is None:
        h = u.new_zeros((batch, dim, Af.shape[1]), dtype=torch.float32)
    else:
        h = initial_state.float().clone()
    ys = []
    for t in range(length):
        dt_t = dt[:, :, t, None]  # (B, D, 1)
        h = torch.exp(dt_t * Af) * h + dt_t * Bf[:, None, :, t] * uf[:, :, t, None]  # (B, D, N)
        ys.append((h * Cf[:, None, :, t]).sum(-1))  # (B, D)
    y = torch.stack(ys, dim=-1) if ys else uf.new_zeros((batch, dim, 0))  # (B, D, T)
    if D is not None:
        y = y + D.float()[:, None] * uf
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(u.dtype), h


def causal_conv1d_ref(x, weight, bias=None, initial_state=None, activation="silu"):
    """Depthwise causal convolution over T tokens, carrying the last W-1 inputs in and out.

    x: (B, D, T); weight: (D, W); bias: (D,); initial_state: (B, D, W-1), the W-1 inputs that came before
    x (zeros when None). y_t = act(bias + sum_k weight[:, k] * xp[t + k]) with xp = [initial_state, x].
    Returns (y (B, D, T) in x.dtype, final_state (B, D, W-1) in x.dtype): the last W-1 entries of xp,
    so chunked calls chain exactly, also when T < W-1. Computed in float32.
    """
    batch, dim, _ = x.shape
    width = weight.shape[1]
    if initial_state is None:
        initial_state = x.new_zeros((batch, dim, width - 1))
    xp = torch.cat([initial_state.to(x.dtype), x], dim=-1)  # (B, D, W-1+T)
    y = F.conv1d(xp.float(), weight.float()[:, None, :], None if bias is None else bias.float(), groups=dim)
    final_state = xp[:, :, xp.shape[-1] - (width - 1):].clone()
    return _activate(y, activation).to(x.dtype), final_state


def selective_state_update_ref(state, x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=True):
    """One decode step of the selective scan; ``state`` (B, D, N) float32 is updated in place.

    x, dt, z: (B, D); B, C: (B, N); A: (D, N); D, dt_bias: (D,). Returns y (B, D) in x.dtype.
    Equal to ``selective_scan_ref`` on a single token with ``initial_state=state``.
    """
    dtf = _discretize_dt(dt, dt_bias, dt_softplus)[:, :, None]  # (B, D, 1)
    xf = x.float()
    h = torch.exp(dtf * A.float()) * state.float() + dtf * B.float()[:, None, :] * xf[:, :, None]  # (B, D, N)
    state.copy_(h)
    y = (h * C.float()[:, None, :]).sum(-1)  # (B, D)
    if D is not None:
        y = y + D.float() * xf
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(x.dtype)


def causal_conv1d_update_ref(x, conv_state, weight, bias=None, activation="silu"):
    """One decode step of the causal conv; ``conv_state`` (B, D, W-1) is updated in place.

    x: (B, D); weight: (D, W). Returns y (B, D) in x.dtype. Equal to ``causal_conv1d_ref`` on a single
    token with ``initial_state=conv_state``.
    """
    window = torch.cat([conv_state.to(x.dtype), x[:, :, None]], dim=-1)  # (B, D, W)
    y = (window.float() * weight.float()).sum(-1)  # (B, D)
    if bias is not None:
        y = y + bias.float()
    conv_state.copy_(window[:, :, 1:])
    return _activate(y, activation).to(x.dtype)
