"""Test set-up: without a GPU, Triton kernels run in the CPU interpreter.

TRITON_INTERPRET must be set before any ``@triton.jit`` function is defined, so it is set here,
before the test modules import worldssm.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
