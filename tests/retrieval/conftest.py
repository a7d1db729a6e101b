import pytest


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    return Embedder()


@pytest.fixture(scope="module")
def clinic(tmp_path_factory, embedder):
    """A read-only clinic collection shared by a module's tests: (data_dir, name)."""
    from tests.retrieval.corpus import build_collection

    data_dir = build_collection(tmp_path_factory.mktemp("data"), embedder)
    return data_dir, "clinic"
