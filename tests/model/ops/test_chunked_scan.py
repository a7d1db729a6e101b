"""The chunked CPU scan's two-level recurrence against the reference, where its structure could slip.

Blocks of SCAN_BLOCK tokens inside chunks of scan_chunk_len tokens, a tail shorter than a block, the
token-by-token path used for wide states, and decays so strong (|A| * dt in the thousands) that every
product of decays underflows to zero: outputs and final states must match the reference in each case.
"""

import pytest
import torch

from model.ops.chunked import SCAN_BLOCK, scan_block_len, scan_chunk_len, selective_scan_chunked
from model.ops.reference import selective_scan_ref
from tests.model.ops.helpers import OUT_TOL, STATE_TOL, assert_close, scan_inputs

DTYPES = [torch.float32, torch.bfloat16]


def _check(inp):
    before = inp["initial_state"].clone() if inp["initial_state"] is not None else None
    y, h = selective_scan_chunked(**inp)
    y_ref, h_ref = selective_scan_ref(**inp)
    assert_close(y, y_ref, OUT_TOL[inp["u"].dtype], "y")
    assert_close(h, h_ref, STATE_TOL, "final state")
    assert h.is_contiguous() and y.is_contiguous()
    if before is not None:
        assert torch.equal(inp["initial_state"], before), "the initial state must not be modified"


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_blocks_chunks_and_tails_match_the_reference(dtype):
    dim, d_state = 12, 16
    chunk = scan_chunk_len(1, dim, d_state)
    assert scan_block_len(1, dim, d_state) == SCAN_BLOCK > 1, "a narrow state must take the blocked path"
    # two whole chunks, then a tail of two blocks plus a few tokens: every boundary kind at once
    length = 2 * chunk + 2 * SCAN_BLOCK + 5
    _check(scan_inputs(1, dim, d_state, length, dtype, seed=21))


@pytest.mark.parametrize("length", [1, SCAN_BLOCK, 2 * SCAN_BLOCK - 1, 2 * SCAN_BLOCK, 3 * SCAN_BLOCK + 1])
def test_short_sequences_around_one_block(length):
    _check(scan_inputs(2, 6, 4, length, seed=length, state=length % 2 == 0))


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
def test_wide_state_runs_token_by_token(dtype):
    dim, d_state = 1100, 16  # B*D*N above the blocking threshold
    assert scan_block_len(1, dim, d_state) == 1
    length = scan_chunk_len(1, dim, d_state) + 9
    _check(scan_inputs(1, dim, d_state, length, dtype, seed=22))


@pytest.mark.parametrize("dtype", DTYPES, ids=["fp32", "bf16"])
@pytest.mark.parametrize("dim", [10, 1100], ids=["blocked", "token-by-token"])
def test_huge_decays_forget_the_past_exactly(dtype, dim):
    """|A| * dt up to ~1e4 per token: a closed form with exp(-cumsum) would overflow; this must not."""
    inp = scan_inputs(1, dim, 16, 2 * SCAN_BLOCK + 7, dtype, seed=23)
    inp["A"] = inp["A"] * 1000.0  # A from about -1e3 to -2e4
    inp["delta_bias"] = inp["delta_bias"] + 2.0  # softplus(dt) ~ 1-3
    _check(inp)
    # mixed: half the channels decay hugely, half barely, so products span every exponent float32 has
    inp["A"][: dim // 2] = inp["A"][: dim // 2] / 1e6
    _check(inp)


def test_chunked_scan_in_pieces_crosses_block_boundaries():
    """A piece boundary inside a block: the carried state must pick up exactly where the last one ended."""
    inp = scan_inputs(1, 8, 16, 5 * SCAN_BLOCK, seed=24)
    y_all, h_all = selective_scan_ref(**inp)
    cut = SCAN_BLOCK + 3
    first = {k: (v[..., :cut] if k in ("u", "delta", "B", "C", "z") else v) for k, v in inp.items()}
    rest = {k: (v[..., cut:] if k in ("u", "delta", "B", "C", "z") else v) for k, v in inp.items()}
    y1, h1 = selective_scan_chunked(**first)
    y2, h2 = selective_scan_chunked(**{**rest, "initial_state": h1})
    assert_close(torch.cat([y1, y2], -1), y_all, OUT_TOL[torch.float32], "y in pieces")
    assert_close(h2, h_all, STATE_TOL, "final state in pieces")
