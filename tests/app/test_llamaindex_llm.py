"""JambaLLM in LlamaIndex: the LLM interfaces, and a query engine over the retriever adapter."""

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.query_engine import RetrieverQueryEngine

from app.llamaindex_llm import JambaLLM
from model.sampling import SamplingParams
from retrieval.llamaindex import WholeDocumentRetriever
from retrieval.retriever import Retriever


def test_llm_interfaces_stream_what_the_backend_streams(engine_backend):
    llm = JambaLLM(engine_backend, max_tokens=5)
    meta = llm.metadata
    assert meta.is_chat_model and meta.context_window == engine_backend.context_window
    assert meta.num_output == 5 and meta.model_name == engine_backend.name

    expected = "".join(engine_backend.stream_chat([{"role": "user", "content": "HbA1c?"}],
                                                  SamplingParams(max_tokens=5)))
    done = llm.complete("HbA1c?")
    assert done.text == expected and done.additional_kwargs["random_weights"] is True
    parts = list(llm.stream_complete("HbA1c?"))
    assert "".join(p.delta for p in parts) == expected and parts[-1].text == expected

    messages = [ChatMessage(role=MessageRole.SYSTEM, content="Cite [doc_id]."),
                ChatMessage(role=MessageRole.USER, content="HbA1c?")]
    reply = llm.chat(messages)
    assert reply.message.role == MessageRole.ASSISTANT
    assert "".join(r.delta for r in llm.stream_chat(messages)) == reply.message.content
    short = llm.complete("HbA1c?", max_tokens=2).text  # per-call options override the LLM's fields
    assert expected.startswith(short) and len(short) <= len(expected)


@pytest.mark.slow  # two whole-document prompts through LlamaIndex's synthesizer: ~10 s on 2 cores
def test_query_engine_over_the_collection(data_dir, embedder, engine_backend):
    from ingest.store import CollectionStore

    store = CollectionStore.open(data_dir, "clinic")
    try:
        retriever = WholeDocumentRetriever(Retriever(store, embedder), k=2)
        llm = JambaLLM(engine_backend, max_tokens=4)
        response = RetrieverQueryEngine.from_args(retriever, llm=llm).query("warfarin target INR")
        sources = [n.node.node_id for n in response.source_nodes]
        assert "ref-warfarin" in sources or "P0002" in sources
        assert len(sources) == 2 and isinstance(response.response, str)

        streaming = RetrieverQueryEngine.from_args(retriever, llm=llm, streaming=True)
        streamed = streaming.query("warfarin target INR")
        assert "".join(streamed.response_gen) == response.response
        assert [n.node.node_id for n in streamed.source_nodes] == sources
    finally:
        store.close()
