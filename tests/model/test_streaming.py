"""Incremental detokenization and stop strings, independent of any model."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from model.streaming import IncrementalDecoder, StopStrings


class ByteTokenizer:
    """One token per UTF-8 byte, decoded like byte-level BPE: split characters show up as U+FFFD."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids, skip_special_tokens=True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def _stream(decoder, ids):
    return [decoder.push(i) for i in ids] + [decoder.flush()]


def test_multibyte_characters_are_never_split():
    tok = ByteTokenizer()
    text = "dose: 5 µg — naïve 💊 ok"
    deltas = _stream(IncrementalDecoder(tok), tok.encode(text))
    assert "".join(deltas) == text
    assert all("\ufffd" not in d for d in deltas)
    assert "💊" in deltas  # the 4-byte emoji arrives whole, in one delta


def test_real_bpe_decoding_keeps_spaces_between_tokens():
    vocab = {"[UNK]": 0, "Ġthe": 1, "Ġpatient": 2, "Ġwas": 3, "Ġseen": 4, ".": 5}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()

    class Wrap:
        def decode(self, ids, skip_special_tokens=True):
            return tok.decode(ids, skip_special_tokens=skip_special_tokens)

    ids = tok.encode("the patient was seen.").ids
    deltas = _stream(IncrementalDecoder(Wrap()), ids)
    assert "".join(deltas) == tok.decode(ids)
    assert deltas[1] == " patient"


def test_an_incomplete_character_at_the_end_is_flushed_as_replacement():
    tok = ByteTokenizer()
    dec = IncrementalDecoder(tok)
    assert dec.push(ord("a")) == "a"
    assert dec.push(0xE2) == ""  # first byte of a 3-byte character, never completed
    assert dec.flush() == "\ufffd"


def _stop_stream(stops, pieces):
    s = StopStrings(stops)
    out = [s.push(p) for p in pieces]
    return "".join(out) + s.flush(), s.stopped


@pytest.mark.parametrize(
    ("stops", "pieces", "want", "stopped"),
    [
        (("</answer>",), ["The dose", " is 5 mg</ans", "wer> extra"], "The dose is 5 mg", True),
        (("</answer>",), ["a </an", "swer"], "a </answer", False),  # never completed: released at the end
        (("\n\n", "END"), ["x\n", "y E", "ND z"], "x\ny ", True),
        (("ab", "b"), ["xab"], "x", True),  # the earliest match wins, whichever stop it is
        ((), ["no", " stops"], "no stops", False),
    ],
)
def test_stop_strings_across_pieces(stops, pieces, want, stopped):
    assert _stop_stream(stops, pieces) == (want, stopped)


def test_text_that_cannot_start_a_stop_string_is_not_held_back():
    s = StopStrings(("STOP",))
    assert s.push("hello S") == "hello "
    assert s.push("x") == "Sx"
