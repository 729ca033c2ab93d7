"""One seed drives everything: Python, numpy and torch here, and the envs through their resets."""

from __future__ import annotations

import random

import numpy as np
import torch


def set_global_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derive_seed(seed: int, purpose: str) -> int:
    """A stable seed for one purpose (``"train_envs"``, ``"eval_envs"``) derived from the run seed."""
    return int(np.random.SeedSequence([seed, *purpose.encode()]).generate_state(1)[0])


def configure_torch_threads(n_threads: int) -> None:
    """Small CPU models run fastest on one thread: more only adds contention with the env workers."""
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)
