"""Kernel tests: Triton kernels run under the interpreter on a CPU-only machine.

TRITON_INTERPRET must be set before the Triton kernel modules are imported (the decorator reads it),
so it is set here, at collection, and only when there is no GPU: on a GPU the same tests run the
compiled kernels on CUDA tensors.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
