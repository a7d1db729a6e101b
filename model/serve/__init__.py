"""An OpenAI-compatible HTTP server over the in-process Jamba engine.

``/v1/chat/completions`` (streaming SSE or not), ``/v1/completions``, ``/v1/models``, ``/health``.
Localhost by default, optional Bearer API key, every request checked before it is queued (body size,
parameters, prompt length against the context and the memory plan), one generation at a time behind
a bounded queue (HTTP 429 when full), and a client that disconnects stops its generation.

    python -m model.serve --model data/tiny-jamba --port 8000
"""

from model.serve.app import ServerState, create_app
from model.serve.config import ServeConfig

__all__ = ["ServeConfig", "ServerState", "create_app"]
