import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Embed questions on one thread, as a query path should: a 15-token question gains nothing from
    more, and on a shared 2-core CI machine a second thread mostly waits (queries ran 10x slower)."""
    import faiss
    import torch

    before = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before[0])
    faiss.omp_set_num_threads(before[1])  # the CLI tests set both through main()


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
