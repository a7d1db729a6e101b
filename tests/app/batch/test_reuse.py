"""Prefix reuse: a document prefilled once answers each question exactly as a whole-prompt prefill does."""

from concurrent.futures import ThreadPoolExecutor

import torch

from app.batch.reuse import PrefixReuse, common_prefix
from model.sampling import SamplingParams

DOC = "## 2021-03-04 Diabetes review\nHbA1c 7.9% today. Metformin increased to 1000 mg BID.\n" * 6


def test_common_prefix_leaves_each_prompt_a_token_of_its_own():
    assert common_prefix([[1, 2, 3, 4], [1, 2, 3, 5]]) == 3
    assert common_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2
    assert common_prefix([[1, 2, 3]]) == 0
    assert common_prefix([[7, 2], [8, 2]]) == 0


def test_prefix_reuse_equals_whole_prompt_prefill_and_decoding(engine_backend):
    # On a worker thread, as the batch runner drives the engine (on a busy shared CPU the main thread's
    # OpenMP team is several times slower; see docs/benchmarks.md, "Batch analysis").
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_check_reuse, engine_backend.engine).result()


def _check_reuse(engine):
    questions = {"a": "What dose of metformin?", "b": "When was the HbA1c taken?"}
    prompts = {qid: engine.encode_chat([{"role": "system", "content": "Answer from the document."},
                                        {"role": "user", "content": f"{DOC}\nQuestion: {q}"}])
               for qid, q in questions.items()}
    params = SamplingParams(max_tokens=3)
    reuse = PrefixReuse(engine, prompts, params.max_tokens, prefill_chunk=64)  # several prefix chunks
    assert reuse.shared > 100
    firsts = {}
    for qid in ["a", "b", "a"]:  # the snapshot is restored whatever ran before
        n = len(prompts[qid])
        logits, cache = reuse.prefill(qid)
        whole_cache = engine.new_cache(n + params.max_tokens)
        whole = engine.prefill(prompts[qid], whole_cache, chunk=64)
        torch.testing.assert_close(logits, whole, rtol=1e-4, atol=1e-4)
        # A decode step reads this question's KV rows, which replaced the previous question's.
        token = whole.argmax(-1)
        torch.testing.assert_close(engine.decode_step(token, cache, n),
                                   engine.decode_step(token, whole_cache, n), rtol=1e-4, atol=1e-4)
        firsts[qid] = int(logits.argmax())
    for qid in questions:
        tokens = list(reuse.tokens(qid, params))
        assert 1 <= len(tokens) <= params.max_tokens and tokens[0] == firsts[qid]
    assert reuse._cache is None  # freed after the document's last question
