"""The reference kernels against the Mamba equations written out independently, in float64."""

import torch
import torch.nn.functional as F

from model.ops.reference import (
    causal_conv1d_ref,
    causal_conv1d_update_ref,
    selective_scan_ref,
    selective_state_update_ref,
)
from tests.model.ops.helpers import conv_inputs, scan_inputs


def _scan_closed_form(u, delta, A, B, C, D, z, delta_bias, initial_state):
    """h_t = prod_{s<=t} a_s * h0 + sum_{s<=t} (prod_{s<r<=t} a_r) * dt_s B_s u_s, with a_r = exp(dt_r A)."""
    u, delta, B, C, z = (t.double() for t in (u, delta, B, C, z))
    dt = F.softplus(delta + delta_bias.double()[:, None])  # (B, D, T)
    log_a = dt[..., None] * A.double()[None, :, None, :]  # (B, D, T, N)
    cum = log_a.cumsum(2)  # (B, D, T, N)
    T = u.shape[-1]
    ys = []
    for t in range(T):
        decay_from_start = torch.exp(cum[:, :, t])  # (B, D, N)
        h = decay_from_start * initial_state.double()
        for s in range(t + 1):
            decay = torch.exp(cum[:, :, t] - cum[:, :, s])  # product of a_r for s < r <= t
            h = h + decay * (dt[:, :, s, None] * B[:, None, :, s] * u[:, :, s, None])
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, -1) + D.double()[:, None] * u
    return y * F.silu(z), h


def test_scan_reference_matches_the_closed_form():
    inp = scan_inputs(2, 3, 4, 7)
    y, h = selective_scan_ref(**inp)
    y64, h64 = _scan_closed_form(**inp)
    assert y.dtype == torch.float32 and h.dtype == torch.float32
    torch.testing.assert_close(y.double(), y64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h.double(), h64, rtol=1e-5, atol=1e-5)


def test_scan_reference_keeps_the_state_in_fp32_for_bf16_inputs():
    inp = scan_inputs(1, 4, 4, 5, dtype=torch.bfloat16)
    y, h = selective_scan_ref(**inp)
    assert y.dtype == torch.bfloat16 and h.dtype == torch.float32
    as_fp32 = {k: (v.float() if k in {"u", "delta", "B", "C", "z"} else v) for k, v in inp.items()}
    y32, h32 = selective_scan_ref(**as_fp32)
    torch.testing.assert_close(h, h32, rtol=1e-6, atol=1e-6)  # same bf16 values, same fp32 arithmetic


def test_conv_reference_matches_the_sum_over_taps():
    inp = conv_inputs(2, 3, 4, 6)
    x, w, b, s0 = inp["x"], inp["weight"], inp["bias"], inp["initial_state"]
    y, final = causal_conv1d_ref(**inp)
    xp = torch.cat([s0, x], -1).double()
    expect = torch.stack([b.double() + (xp[:, :, t:t + 4] * w.double()).sum(-1) for t in range(6)], -1)
    torch.testing.assert_close(y.double(), F.silu(expect))
    torch.testing.assert_close(final, x[:, :, -3:])


def test_conv_reference_final_state_when_shorter_than_the_window():
    inp = conv_inputs(1, 2, 4, 2)
    _, final = causal_conv1d_ref(**inp)
    torch.testing.assert_close(final, torch.cat([inp["initial_state"][:, :, 2:], inp["x"]], -1))


def test_decode_references_equal_one_token_of_prefill():
    scan = scan_inputs(2, 5, 4, 1)
    state = scan["initial_state"].clone()
    y = selective_state_update_ref(
        state, scan["u"][..., 0], scan["delta"][..., 0], scan["A"], scan["B"][..., 0], scan["C"][..., 0],
        D=scan["D"], z=scan["z"][..., 0], dt_bias=scan["delta_bias"],
    )
    y1, h1 = selective_scan_ref(**scan)
    torch.testing.assert_close(y, y1[..., 0])
    torch.testing.assert_close(state, h1)

    conv = conv_inputs(2, 5, 4, 1)
    conv_state = conv["initial_state"].clone()
    y = causal_conv1d_update_ref(conv["x"][..., 0], conv_state, conv["weight"], conv["bias"])
    y1, s1 = causal_conv1d_ref(**conv)
    torch.testing.assert_close(y, y1[..., 0])
    torch.testing.assert_close(conv_state, s1)
