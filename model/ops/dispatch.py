"""Pick a kernel backend once and hand the four Mamba ops out as one ``Ops`` value.

Backends: ``reference`` (exact, slow), ``chunked`` (CPU, memory-bounded PyTorch), ``triton`` (GPU; CPU
tensors only under TRITON_INTERPRET=1, for tests), ``official`` (mamba-ssm + causal-conv1d, falling back to
Triton where they lack an initial state). ``get_ops()`` with no name (and no ``DOCQA_KERNELS``) returns
``auto``: each call goes to the backend chosen once per device type (CUDA: official if installed, else
Triton; CPU: chunked), so a model built on the CPU and moved to the GPU needs no new ops. Backends are
imported only when chosen, so a CPU machine never compiles or imports a GPU kernel it does not use.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from model.ops.errors import KernelBackendUnavailable

log = logging.getLogger(__name__)

BACKENDS = ("reference", "chunked", "triton", "official")
ENV_VAR = "DOCQA_KERNELS"


@dataclass(frozen=True)
class Ops:
    """The four Mamba ops of one backend; every backend has the signatures of ``model.ops.reference``."""

    name: str
    selective_scan: Callable
    causal_conv1d: Callable
    selective_state_update: Callable
    causal_conv1d_update: Callable


def get_ops(backend: str | None = None) -> Ops:
    """The ops of `backend`, else of ``$DOCQA_KERNELS``, else ``auto`` (chosen per device type).

    Raises ValueError for an unknown name and KernelBackendUnavailable, saying how to install it, for a
    backend that cannot run here.
    """
    name = backend or os.environ.get(ENV_VAR) or "auto"
    if name == "auto":
        return _AUTO
    ops = load_backend(name)
    log.info("kernels: using backend %s (%s)", name, "argument" if backend else ENV_VAR)
    return ops


@functools.cache
def load_backend(name: str) -> Ops:
    """Import one backend by name; cached, so each is imported and checked once per process."""
    if name == "reference":
        from model.ops import reference as m

        return Ops(name, m.selective_scan_ref, m.causal_conv1d_ref, m.selective_state_update_ref,
                   m.causal_conv1d_update_ref)
    if name == "chunked":
        from model.ops import chunked as m

        return Ops(name, m.selective_scan_chunked, m.causal_conv1d_chunked, m.selective_state_update_chunked,
                   m.causal_conv1d_update_chunked)
    if name == "triton":
        return _load_triton()
    if name == "official":
        _load_triton()  # the official backend hands stateful calls to Triton
        from model.ops import official as m

        m._require()
        return Ops(name, m.selective_scan_official, m.causal_conv1d_official,
                   m.selective_state_update_official, m.causal_conv1d_update_official)
    raise ValueError(f"unknown kernel backend {name!r}; choose one of {', '.join(BACKENDS)} or auto")


def _load_triton() -> Ops:
    if importlib.util.find_spec("triton") is None:
        raise KernelBackendUnavailable("the triton kernel backend needs Triton: pip install triton")
    from model.ops import triton_conv, triton_scan
    from model.ops.triton_common import is_interpreted

    if not torch.cuda.is_available() and not is_interpreted(triton_scan._selective_scan_kernel):
        raise KernelBackendUnavailable(
            "the triton kernel backend needs a CUDA GPU (or TRITON_INTERPRET=1, set before the triton "
            "kernels are imported, to test it on the CPU); use DOCQA_KERNELS=chunked here"
        )
    return Ops("triton", triton_scan.selective_scan_triton, triton_conv.causal_conv1d_triton,
               triton_scan.selective_state_update_triton, triton_conv.causal_conv1d_update_triton)


def pick_backend(device_type: str) -> str:
    """The backend ``auto`` uses on this device type: CUDA -> official, else triton; others -> chunked."""
    if device_type != "cuda":
        return "chunked"
    for name in ("official", "triton"):
        try:
            load_backend(name)
        except KernelBackendUnavailable:
            continue
        from model.ops import triton_scan
        from model.ops.triton_common import is_interpreted

        if not is_interpreted(triton_scan._selective_scan_kernel):  # interpreted: numpy, far too slow
            return name
    return "chunked"  # pure PyTorch runs on CUDA too, just slowly


@functools.cache
def _ops_for_device(device_type: str) -> Ops:
    name = pick_backend(device_type)
    log.info("kernels: auto backend for %s tensors is %s", device_type, name)
    return load_backend(name)


def _route(op: str, first_arg: str) -> Callable:
    """An op that looks at its first tensor's device and calls that device's chosen backend."""

    def call(*args, **kwargs):
        tensor = args[0] if args else kwargs[first_arg]
        return getattr(_ops_for_device(tensor.device.type), op)(*args, **kwargs)

    call.__name__ = f"{op}_auto"
    return call


_AUTO = Ops(
    "auto",
    _route("selective_scan", "u"),
    _route("causal_conv1d", "x"),
    _route("selective_state_update", "state"),
    _route("causal_conv1d_update", "x"),
)
