"""The bundled synthetic medical corpus: a seeded generator of patient histories, reference documents and a
question set with gold answers, for the demo, the tests and the retrieval evaluation.

It knows clinical vocabularies and how records are written; it knows nothing of the store, embeddings or
models. Output is a deterministic function of (seed, scale). No real person is described.
"""

from .generate import Manifest, ManifestFile, build_corpus, generate

__all__ = ["Manifest", "ManifestFile", "build_corpus", "generate"]
