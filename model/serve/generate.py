"""Runs one queued request on the engine: token ids in, text deltas out, and how generation ended.

The server needs more than ``engine.stream_text`` gives: the number of completion tokens (for usage)
as well as the finish reason. So it drives ``engine.generate`` itself, with the same incremental
decoder and stop-string filter ``stream_text`` uses.
"""

from __future__ import annotations

from model.serve.worker import Delta, Finished, Job, RunJob
from model.streaming import IncrementalDecoder, StopStrings


def engine_runner(engine, prefill_chunk: int) -> RunJob:
    def run(job: Job) -> Finished:
        decoder, stops = IncrementalDecoder(engine.tokenizer), StopStrings(job.params.stop)
        tokens = engine.generate(job.prompt_ids, job.params, prefill_chunk=prefill_chunk,
                                 should_stop=job.cancel.is_set)
        n, reason = 0, "length"
        while True:
            try:
                token_id = next(tokens)
            except StopIteration as done:  # the engine says why: "stop" (EOS), "length", "cancelled"
                reason = done.value or reason
                break
            n += 1
            text = stops.push(decoder.push(token_id))
            if text:
                job.emit(Delta(text))
            if stops.stopped:  # a stop string ends generation now, not at max_tokens
                tokens.close()
                return Finished("stop", n)
        if reason != "cancelled":
            tail = stops.push(decoder.flush()) + stops.flush()
            if tail:
                job.emit(Delta(tail))
        return Finished("stop" if stops.stopped else reason, n)

    return run
