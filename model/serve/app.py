"""The FastAPI application over one engine: ``create_app(engine, config)``.

The app holds a ``ServerState`` (engine, settings, worker, limits); routes read it from
``request.app.state.server``. The worker thread starts with the app and stops with it.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.serve.config import ServeConfig
from model.serve.errors import APIError, bad_request
from model.serve.generate import engine_runner
from model.serve.routes import router
from model.serve.worker import GenerationWorker

log = logging.getLogger(__name__)


class ServerState:
    """Everything a request needs: the engine, the settings, the worker and the context limit."""

    def __init__(self, engine, config: ServeConfig, plan=None, checkpoint: str | None = None) -> None:
        self.engine, self.config, self.plan = engine, config, plan
        self.model_name = (config.model_name or getattr(engine, "name", None)
                           or (Path(checkpoint).name if checkpoint else "jamba"))
        self.random_weights = bool(engine.random_weights)
        self.context_window = int(engine.context_window)
        if plan is not None:
            self.context_window = min(self.context_window, int(plan.max_context))
        self.created = int(time.time())
        self.worker: GenerationWorker | None = None

    def start(self) -> None:
        if self.worker is None:
            self.worker = GenerationWorker(engine_runner(self.engine, self.config.prefill_chunk),
                                           self.config.max_queue)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def check_plan(self, n_tokens: int) -> None:
        """Refuse a request the memory planner says cannot fit on this GPU, with the planner's reason."""
        if self.plan is None:
            return
        from model.plan import PlanError, check_request

        try:
            check_request(self.plan, n_tokens)
        except PlanError as e:
            raise bad_request(str(e), param="messages", code="context_length_exceeded") from None


def create_app(engine, config: ServeConfig | None = None, *, plan=None,
               checkpoint: str | None = None) -> FastAPI:
    state = ServerState(engine, config or ServeConfig(), plan=plan, checkpoint=checkpoint)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start()
        log.info("serving %s (context %d tokens, queue %d)", state.model_name, state.context_window,
                 state.config.max_queue)
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="docqa Jamba server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.server = state
    app.include_router(router)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = "not_found" if exc.status_code == 404 else None
        return APIError(exc.status_code, str(exc.detail), code=code).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return bad_request(str(exc)).response()

    return app
