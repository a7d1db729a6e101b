"""Where a forward pass spends its time: wall seconds inside chosen modules, through forward hooks.

The model benchmark uses it to time the attention mixers of both engines in one extra prefill. Both call
the same PyTorch attention kernel, so the faster of the two attention times bounds how far any engine can
outrun the other: transformers' prefill time divided by it is the best speed-up the rest of the model
could ever buy (docs/benchmarks.md, "Model engine (CPU)").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from torch import nn

# Attention mixers: ours (model.layers.Attention) and transformers' (JambaAttention).
ATTENTION_CLASSES = ("Attention", "JambaAttention")


def seconds_inside(model: nn.Module, class_names: tuple[str, ...], run: Callable[[], object],
                   sync: Callable[[], None] = lambda: None) -> float:
    """Wall seconds that one call of ``run`` spends inside modules whose class is named in
    ``class_names`` (outermost only, so a matched module inside a matched module counts once)."""
    modules = [m for m in model.modules() if type(m).__name__ in class_names]
    if not modules:
        raise ValueError(f"no module of class {', '.join(class_names)} in {type(model).__name__}")
    total = 0.0
    depth = 0
    started = 0.0

    def enter(_module, _args):
        nonlocal depth, started
        if depth == 0:
            sync()
            started = time.perf_counter()
        depth += 1

    def leave(_module, _args, _output):
        nonlocal depth, total
        depth -= 1
        if depth == 0:
            sync()
            total += time.perf_counter() - started

    handles = [m.register_forward_pre_hook(enter) for m in modules]
    handles += [m.register_forward_hook(leave) for m in modules]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total
