"""``python -m model {plan,bench,generate}``: thin shells over model.plan, model.bench and the engine."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from model import bench

RANDOM_LABEL = "[random-weights test model: this text is meaningless]"


def _plan(args: argparse.Namespace) -> int:
    import torch

    from model.config import PRESETS
    from model.plan import PlanError, check_request, parse_bytes, plan
    from model.weights import CheckpointError, load_config, resolve_checkpoint

    if args.gpu_mem:
        gpu_bytes = parse_bytes(args.gpu_mem)
    elif torch.cuda.is_available():
        gpu_bytes = torch.cuda.get_device_properties(0).total_memory
    else:
        print("error: no GPU here; say how much memory to plan for, e.g. --gpu-mem 141GB", file=sys.stderr)
        return 2
    try:
        config = PRESETS[args.preset] if args.preset else load_config(resolve_checkpoint(args.model))
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    p = plan(config, args.dtype, gpu_bytes, args.prefill_chunk, flash=not args.no_flash)
    print(p)
    if args.tokens is not None:
        try:
            check_request(p, args.tokens)
        except PlanError as e:
            print(f"refused: {e}", file=sys.stderr)
            return 1
        print(f"a request of {args.tokens:,} tokens fits")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from model.engine import ContextTooLong, Engine
    from model.sampling import SamplingParams
    from model.weights import CheckpointError

    try:
        engine = Engine.load(args.model, device=args.device, dtype=args.dtype)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if engine.random_weights:
        print(RANDOM_LABEL, file=sys.stderr, flush=True)
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}
    ]
    ids = engine.encode_chat(messages)
    params = SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    try:
        for text in engine.stream_text(ids, params, prefill_chunk=args.prefill_chunk):
            print(text, end="", flush=True)
    except ContextTooLong as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print()
    return 0


def parser() -> argparse.ArgumentParser:
    gpu = os.environ.get("DOCQA_DEVICE", "cpu").startswith("cuda")
    ap = argparse.ArgumentParser(prog="python -m model", description="The Jamba engine's commands.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="what fits on a GPU: the largest context for a model and dtype")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="a published shape: jamba-mini")
    src.add_argument("--model", help="a checkpoint folder or hub id (only config.json is read)")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--gpu-mem", default=None, help="GPU memory, e.g. 141GB or 139GiB (default: this GPU's)")
    p.add_argument("--prefill-chunk", type=int, default=2048)
    p.add_argument("--no-flash", action="store_true", help="plan for an attention kernel that builds scores")
    p.add_argument("--tokens", type=int, default=None, help="also check a request of this many tokens")
    p.set_defaults(run=_plan)

    b = sub.add_parser("bench", help="prefill and decode speed and peak memory, ours vs transformers")
    bench.add_arguments(b)
    b.set_defaults(run=lambda a: bench.run_benchmark(a) and 0)

    g = sub.add_parser("generate", help="stream a chat answer to one prompt")
    g.add_argument("--model", default=os.environ.get("DOCQA_MODEL", "data/tiny-jamba"))
    g.add_argument("--prompt", required=True)
    g.add_argument("--system", default=None)
    g.add_argument("--max-tokens", type=int, default=64)
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--device", default=os.environ.get("DOCQA_DEVICE", "cpu"))
    g.add_argument("--dtype", default=os.environ.get("DOCQA_DTYPE", "bfloat16" if gpu else "float32"))
    g.add_argument("--prefill-chunk", type=int, default=2048)
    g.set_defaults(run=_generate)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(args.run(args))
