"""``python -m model.serve``: load a checkpoint and serve it over the OpenAI API."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from model.serve.config import ServeConfig

EPILOG = """examples:
  python -m model.serve --model data/tiny-jamba
  python -m model.serve --model /models/jamba-mini --device cuda --port 8000 --api-key "$KEY"
then point any OpenAI client at http://127.0.0.1:8000/v1, e.g. ask --server http://127.0.0.1:8000/v1
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model.serve", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.environ.get("DOCQA_MODEL", "data/tiny-jamba"),
                   help="checkpoint folder or hub id [DOCQA_MODEL, default data/tiny-jamba]")
    p.add_argument("--device", default=os.environ.get("DOCQA_DEVICE", "cpu"))
    p.add_argument("--dtype", default=os.environ.get("DOCQA_DTYPE"),
                   help="default float32 on cpu, bfloat16 on cuda")
    p.add_argument("--host", default="127.0.0.1",
                   help="bind address; the default keeps prompts (medical records) on this machine")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=os.environ.get("DOCQA_API_KEY"),
                   help="require 'Authorization: Bearer KEY' [DOCQA_API_KEY]")
    p.add_argument("--served-model-name", help="model id in /v1/models (default: the checkpoint's name)")
    p.add_argument("--max-queue", type=int, default=ServeConfig.max_queue,
                   help="requests that may wait behind the running one before 429s")
    p.add_argument("--max-body-mb", type=float, default=ServeConfig.max_body_bytes / 2**20)
    p.add_argument("--max-tokens-limit", type=int,
                   help="most answer tokens per request (default: the context)")
    p.add_argument("--prefill-chunk", type=int, default=ServeConfig.prefill_chunk)
    p.add_argument("--kernels", help="kernel backend for the engine (default: the dispatcher's choice)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from model.backend import BackendError, EngineBackend
    from model.serve.app import create_app

    dtype = args.dtype or ("float32" if args.device == "cpu" else "bfloat16")
    try:
        backend = EngineBackend.load(args.model, device=args.device, dtype=dtype, kernels=args.kernels,
                                     prefill_chunk=args.prefill_chunk)
    except BackendError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    config = ServeConfig(host=args.host, port=args.port, api_key=args.api_key,
                         model_name=args.served_model_name, max_queue=args.max_queue,
                         max_body_bytes=int(args.max_body_mb * 2**20), max_tokens_limit=args.max_tokens_limit,
                         prefill_chunk=args.prefill_chunk)
    if backend.random_weights:
        print("note: this checkpoint has random weights (a test model); its output is noise", file=sys.stderr)
    app = create_app(backend.engine, config, plan=backend.plan, checkpoint=args.model)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
