"""Keeping the best model seen so far, by mean evaluation return."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

from maze_core.run_dir import save_torch


class BestModelSelection:
    """Remembers (and optionally writes) the model's weights whenever the reward strictly improves.

    :param dump_file: where to write the best weights (``torch.save`` of the state dict, atomically),
        or None.
    :param model: anything with ``state_dict()``; None only records rewards.
    :param dump_interval: also write ``<stem>-epoch_<n><suffix>`` every ``dump_interval`` updates.
    :param extra_state: returns further top-level entries kept with the best weights: what the
        weights only act correctly with, such as the observation normalization statistics of
        that moment (later statistics would not match them).
    """

    def __init__(
        self,
        dump_file: str | Path | None = None,
        model=None,
        dump_interval: int | None = None,
        extra_state: Callable[[], dict] | None = None,
    ):
        self.dump_file = Path(dump_file) if dump_file is not None else None
        self.model = model
        self.extra_state = extra_state
        self.dump_interval = dump_interval
        self.best_reward = -math.inf
        self.best_state_dict = None
        self.last_improvement = 0
        self.update_count = 0

    def update(self, reward: float) -> bool:
        """Record one evaluation; returns whether it is a new best."""
        improved = reward > self.best_reward
        self.last_improvement = 0 if improved else self.last_improvement + 1
        if improved:
            self.best_reward = float(reward)
            if self.model is not None:
                extra = self.extra_state() if self.extra_state is not None else {}
                self.best_state_dict = copy.deepcopy({**self.model.state_dict(), **extra})
                if self.dump_file is not None:
                    save_torch(self.best_state_dict, self.dump_file)
        if self.model is not None and self.dump_file is not None and self.dump_interval:
            if self.update_count % self.dump_interval == 0:
                path = self.dump_file.with_name(
                    f"{self.dump_file.stem}-epoch_{self.update_count}{self.dump_file.suffix}"
                )
                save_torch(self.model.state_dict(), path)
        self.update_count += 1
        return improved

    def state_dict(self) -> dict:
        return {
            "best_reward": self.best_reward,
            "last_improvement": self.last_improvement,
            "update_count": self.update_count,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best_reward = float(state["best_reward"])
        self.last_improvement = int(state["last_improvement"])
        self.update_count = int(state["update_count"])
