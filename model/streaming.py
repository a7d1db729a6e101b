"""Token ids to text deltas, as they are generated: incremental detokenization and stop strings.

Two things make this more than ``decode(token)`` per step. A multi-byte character can span tokens
(byte-level BPE), so a delta is held back while the text ends in an incomplete character. And a stop
string can span tokens, so text that could be the start of a stop string is held back until the next
tokens show whether it is one; the stop string itself is never emitted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

REPLACEMENT = "\ufffd"  # what a tokenizer decodes an incomplete UTF-8 sequence to


class IncrementalDecoder:
    """Feeds token ids one at a time, returns the new text each one completes.

    Decodes a short window of recent tokens instead of the whole answer each step (linear, not
    quadratic): the text of tokens [prefix, read) is already emitted, so the delta is
    decode([prefix, now)) minus decode([prefix, read)). Decoding from a few tokens back keeps the
    tokenizer's context-dependent joins (leading spaces, merged bytes) the same in both strings.
    """

    def __init__(self, tokenizer, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.ids: list[int] = []
        self.prefix = 0  # start of the decode window
        self.read = 0  # tokens whose text has been emitted

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)

    def push(self, token_id: int) -> str:
        self.ids.append(int(token_id))
        done = self._decode(self.ids[self.prefix : self.read])
        now = self._decode(self.ids[self.prefix :])
        if len(now) <= len(done) or now.endswith(REPLACEMENT):
            return ""  # nothing new yet, or a character still incomplete
        self.prefix, self.read = self.read, len(self.ids)
        return now[len(done) :]

    def flush(self) -> str:
        """Whatever is still held back when generation ends (an incomplete character stays as U+FFFD)."""
        done = self._decode(self.ids[self.prefix : self.read])
        now = self._decode(self.ids[self.prefix :])
        self.prefix = self.read = len(self.ids)
        return now[len(done) :] if len(now) > len(done) else ""


class StopStrings:
    """Holds back text that might begin a stop string; reports when one is complete."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Text safe to emit now. After a stop string is found, everything from it on is dropped."""
        if self.stopped:
            return ""
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            out, self.pending = self.pending[: min(hits)], ""
            return out
        keep = self._partial_suffix()
        out, self.pending = self.pending[: len(self.pending) - keep], self.pending[len(self.pending) - keep :]
        return out

    def _partial_suffix(self) -> int:
        """Length of the longest end of ``pending`` that is a proper prefix of some stop string."""
        best = 0
        for s in self.stops:
            for n in range(min(len(s) - 1, len(self.pending)), best, -1):
                if self.pending.endswith(s[:n]):
                    best = n
                    break
        return best

    def flush(self) -> str:
        """At the end of generation the held-back text was not a stop string after all."""
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out


def stream_tokens_as_text(tokens: Iterator[int], tokenizer, stop: Sequence[str] = ()) -> Iterator[str]:
    """Turn a token generator into text deltas: never a broken UTF-8 character, never (part of) a stop
    string. Returns the token generator's finish reason, or "stop" when a stop string ended it (the
    token generator is then closed, so generation stops too)."""
    decoder, stops = IncrementalDecoder(tokenizer), StopStrings(stop)
    reason = "length"
    while True:
        try:
            token = next(tokens)
        except StopIteration as done:
            reason = done.value
            break
        text = stops.push(decoder.push(token))
        if text:
            yield text
        if stops.stopped:
            tokens.close()
            return "stop"
    tail = stops.push(decoder.flush()) + stops.flush()
    if tail:
        yield tail
    return "stop" if stops.stopped else reason
