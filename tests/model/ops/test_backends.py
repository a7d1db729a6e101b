"""Every fast backend against the reference: outputs and final states, shapes, options, dtypes.

Also the properties chunked prefill and decoding rely on: a sequence scanned in pieces with the state
carried equals the sequence scanned at once, and k decode steps equal one prefill of k tokens.
Interpreted Triton is slow, so it gets short sequences; compiled backends also get long ones.
"""

from itertools import pairwise

import pytest
import torch

from model.ops.reference import causal_conv1d_ref, selective_scan_ref
from tests.model.ops.helpers import (
    OUT_TOL,
    STATE_TOL,
    assert_close,
    conv_inputs,
    device_for,
    ops_or_skip,
    scan_inputs,
    time_slice,
)

BACKENDS = ["chunked", "triton", "official"]
DTYPES = [torch.float32, torch.bfloat16]


def _long(backend: str) -> int:
    """A length that crosses several chunks (chunked: 256-token chunks) where running it is cheap."""
    if backend == "triton" and not torch.cuda.is_available():
        return 70
    return 600


def _ops(backend):
    ops = ops_or_skip(backend)
    return ops, device_for(backend)


# (batch, channels, state size, tokens, options left out)
SCAN_CASES = [
    (2, 20, 16, 1, ()),
    (1, 20, 16, 2, ("D", "z", "delta_bias")),
    (2, 7, 5, 9, ("initial_state",)),
    (1, 20, 16, "long", ()),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
@pytest.mark.parametrize("case", SCAN_CASES, ids=["T1", "T2-bare", "T9-N5-nostate", "long"])
def test_selective_scan_matches_reference(backend, dtype, case):
    ops, device = _ops(backend)
    batch, dim, d_state, length, omit = case
    length = _long(backend) if length == "long" else length
    inp = scan_inputs(batch, dim, d_state, length, dtype, device, seed=length)
    for name in omit:
        inp[name] = None
    before = None if inp["initial_state"] is None else inp["initial_state"].clone()
    y, h = ops.selective_scan(**inp)
    y_ref, h_ref = selective_scan_ref(**inp)
    assert_close(y, y_ref, OUT_TOL[dtype], "y")
    assert_close(h, h_ref, STATE_TOL, "final state")
    if before is not None:
        assert torch.equal(inp["initial_state"], before), "the initial state must not be modified"


@pytest.mark.parametrize("backend", BACKENDS)
def test_selective_scan_without_softplus(backend):
    ops, device = _ops(backend)
    inp = scan_inputs(1, 8, 4, 5, device=device)
    inp["delta"] = inp["delta"].abs() * 0.3  # already a positive step size
    y, h = ops.selective_scan(**inp, delta_softplus=False)
    y_ref, h_ref = selective_scan_ref(**inp, delta_softplus=False)
    assert_close(y, y_ref, OUT_TOL[torch.float32], "y")
    assert_close(h, h_ref, STATE_TOL, "final state")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_selective_scan_in_pieces_equals_at_once(backend, dtype):
    ops, device = _ops(backend)
    length = _long(backend)
    inp = scan_inputs(2, 12, 16, length, dtype, device, seed=3)
    y_all, h_all = selective_scan_ref(**inp)
    cuts = [0, 1, length // 3, length]  # a one-token piece, then two longer ones
    state, ys = inp["initial_state"], []
    for t0, t1 in pairwise(cuts):
        y, state = ops.selective_scan(**{**time_slice(inp, t0, t1), "initial_state": state})
        ys.append(y)
    assert_close(torch.cat(ys, -1), y_all, OUT_TOL[dtype], "y in pieces")
    assert_close(state, h_all, STATE_TOL, "state after the last piece")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_decode_steps_equal_one_scan(backend, dtype):
    ops, device = _ops(backend)
    steps = 5
    inp = scan_inputs(2, 20, 16, steps, dtype, device, seed=5)
    y_all, h_all = selective_scan_ref(**inp)
    state = inp["initial_state"].clone()
    ys = [
        ops.selective_state_update(
            state, inp["u"][..., t], inp["delta"][..., t], inp["A"], inp["B"][..., t], inp["C"][..., t],
            D=inp["D"], z=inp["z"][..., t], dt_bias=inp["delta_bias"], dt_softplus=True,
        )
        for t in range(steps)
    ]
    assert_close(torch.stack(ys, -1), y_all, OUT_TOL[dtype], "decoded y")
    assert_close(state, h_all, STATE_TOL, "state after decoding")


# (batch, channels, width, tokens, layout, options left out)
CONV_CASES = [
    (2, 20, 4, 1, "BDT", ()),
    (1, 20, 4, 2, "BDT", ("initial_state",)),  # T < W-1: the final state reaches into the initial one
    (2, 20, 4, 2, "BTD", ()),
    (2, 70, 4, 37, "BTD", ("bias",)),
    (1, 9, 2, 13, "BDT", ()),
    (1, 20, 4, "long", "BDT", ()),
]
CONV_IDS = ["T1", "T2-nostate", "T2-BTD", "T37-BTD-nobias", "W2", "long"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("activation", ["silu", None])
def test_causal_conv1d_matches_reference(backend, dtype, case, activation):
    ops, device = _ops(backend)
    batch, dim, width, length, layout, omit = case
    length = _long(backend) if length == "long" else length
    inp = conv_inputs(batch, dim, width, length, dtype, device, seed=length)
    if layout == "BTD":  # a transposed (B, T, D) projection output, as the Mamba mixer produces
        inp["x"] = inp["x"].transpose(1, 2).contiguous().transpose(1, 2)
    for name in omit:
        inp[name] = None
    before = None if inp["initial_state"] is None else inp["initial_state"].clone()
    y, final = ops.causal_conv1d(**inp, activation=activation)
    y_ref, final_ref = causal_conv1d_ref(**inp, activation=activation)
    assert_close(y, y_ref, OUT_TOL[dtype], "y")
    assert torch.equal(final.cpu(), final_ref.cpu()), "the final state is a copy of inputs, exactly"
    if before is not None:
        assert torch.equal(inp["initial_state"], before), "the initial state must not be modified"


@pytest.mark.parametrize("backend", BACKENDS)
def test_causal_conv1d_in_pieces_equals_at_once(backend):
    ops, device = _ops(backend)
    length = _long(backend)
    inp = conv_inputs(2, 20, 4, length, device=device, seed=7)
    y_all, s_all = causal_conv1d_ref(**inp)
    cuts = [0, 1, 3, 5, length]  # pieces shorter than W-1 must chain too
    state, ys = inp["initial_state"], []
    for t0, t1 in pairwise(cuts):
        y, state = ops.causal_conv1d(**{**time_slice(inp, t0, t1), "initial_state": state})
        ys.append(y)
    assert_close(torch.cat(ys, -1), y_all, OUT_TOL[torch.float32], "y in pieces")
    assert torch.equal(state.cpu(), s_all.cpu())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_conv_decode_steps_equal_one_conv(backend, dtype):
    ops, device = _ops(backend)
    steps = 5
    inp = conv_inputs(2, 70, 4, steps, dtype, device, seed=11)
    y_all, s_all = causal_conv1d_ref(**inp)
    state = inp["initial_state"].clone()
    ys = [ops.causal_conv1d_update(inp["x"][..., t], state, inp["weight"], inp["bias"]) for t in range(steps)]
    assert_close(torch.stack(ys, -1), y_all, OUT_TOL[dtype], "decoded y")
    assert torch.equal(state.cpu(), s_all.cpu())


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["triton", "official"])
def test_jamba_sized_prefill_on_gpu(backend):
    """A Jamba-width chunk in bf16 on the GPU, against the reference run on the same GPU."""
    ops, device = _ops(backend)
    if device != "cuda":
        pytest.skip("Triton kernels are interpreted here (TRITON_INTERPRET=1): a GPU run needs it unset")
    inp = scan_inputs(1, 2048, 16, 1024, torch.bfloat16, device, seed=1)
    y, h = ops.selective_scan(**inp)
    y_ref, h_ref = selective_scan_ref(**inp)
    assert_close(y, y_ref, OUT_TOL[torch.bfloat16], "y")
    assert_close(h, h_ref, 1e-4, "final state")
    conv = conv_inputs(1, 2048, 4, 1024, torch.bfloat16, device, seed=2)
    y, s = ops.causal_conv1d(**conv)
    y_ref, s_ref = causal_conv1d_ref(**conv)
    assert_close(y, y_ref, OUT_TOL[torch.bfloat16], "conv y")
    assert torch.equal(s, s_ref)

