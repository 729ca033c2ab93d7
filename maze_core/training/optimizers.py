"""Adam and RMSprop for Maze's trainers, without ``torch.optim``.

``torch.optim``'s optimizers import ``torch._dynamo`` (about 1.5 s, more than the rest of a short
run's start-up together) on their first ``step``, ``zero_grad`` or ``state_dict``, although nothing
is compiled. These are the same algorithms with the same state layout: a checkpoint's optimizer
state loads into either, and a step equals torch's to float rounding (``tests/training/
test_optimizers.py``). Adam calls torch's fused kernel (``torch._fused_adam_``: one kernel for all
tensors) where the device has one, as ``torch.optim.Adam(fused=True)`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

#: devices with a fused Adam kernel (``torch._fused_adam_``)
FUSED_ADAM_DEVICES = ("cpu", "cuda")


class Optimizer:
    """One group of parameters with a learning rate (``param_groups[0]["lr"]``, which trainers
    set for schedules) and per-parameter state; ``state_dict`` is in ``torch.optim``'s format."""

    #: the names of the per-parameter state tensors besides ``step``, in torch's spelling
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[torch.Tensor], **defaults) -> None:
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty list of parameters to optimize")
        self.defaults = defaults
        self.param_groups = [{"params": params, **defaults}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @property
    def params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        params = [param for param in self.params if param.grad is not None]
        if params:
            self._update(params, [param.grad for param in params], [self._state(param) for param in params])

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict]) -> None:
        raise NotImplementedError

    def _state(self, param: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(param)
        if state is None:
            # ``step`` lives where torch keeps it: on the parameter's device for the fused kernel
            step_device = param.device if self._fused(param) else "cpu"
            state = {"step": torch.tensor(0.0, dtype=torch.float32, device=step_device)}
            for name in self.state_names:
                state[name] = torch.zeros_like(param, memory_format=torch.preserve_format)
            self.state[param] = state
        return state

    def _fused(self, param: torch.Tensor) -> bool:
        return False

    def state_dict(self) -> dict:
        """``torch.optim.Optimizer.state_dict``'s layout: state by parameter index."""
        group = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        group["params"] = list(range(len(self.params)))
        saved = enumerate(self.params)
        state = {index: dict(self.state[param]) for index, param in saved if param in self.state}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by :meth:`state_dict` or by the torch optimizer of the same name."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(
                f"the saved {type(self).__name__} state has {sum(len(g['params']) for g in groups)} "
                f"parameters in {len(groups)} groups; this one has {len(self.params)} in one group"
            )
        saved_indices = groups[0]["params"]
        self.state = {}
        for index, param in zip(saved_indices, self.params, strict=True):
            saved = state_dict["state"].get(index)
            if saved is None:
                continue
            state = self._state(param)  # allocated where this optimizer keeps it
            for name, value in saved.items():
                if name in state:
                    state[name].copy_(value)
        self.param_groups[0].update({key: value for key, value in groups[0].items() if key in self.defaults})

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value}" for key, value in self.defaults.items())
        return f"{type(self).__name__}({len(self.params)} tensors, {settings})"


class Adam(Optimizer):
    """Adam (Kingma & Ba) without weight decay or AMSGrad, as ``torch.optim.Adam``."""

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps)

    def _fused(self, param: torch.Tensor) -> bool:
        return param.device.type in FUSED_ADAM_DEVICES

    def _update(self, params, grads, states) -> None:
        group = self.param_groups[0]
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        steps = [state["step"] for state in states]
        exp_avgs = [state["exp_avg"] for state in states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in states]
        fused = [self._fused(param) for param in params]
        if all(fused):
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params, grads, exp_avgs, exp_avg_sqs, [], steps,
                amsgrad=False, lr=lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=eps,
                maximize=False, grad_scale=None, found_inf=None,
            )  # fmt: skip
            return
        moments = zip(exp_avgs, exp_avg_sqs, strict=True)
        for param, grad, (exp_avg, exp_avg_sq), step in zip(params, grads, moments, steps, strict=True):
            # torch's single-tensor Adam, operation for operation
            step += 1
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            t = step.item()
            step_size = lr / (1 - beta1**t)
            denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


class RMSprop(Optimizer):
    """RMSprop without momentum or centering, as ``torch.optim.RMSprop``."""

    state_names = ("square_avg",)

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-2, alpha: float = 0.99, eps=1e-8):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps)

    def _update(self, params, grads, states) -> None:
        group = self.param_groups[0]
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        square_avgs = [state["square_avg"] for state in states]
        torch._foreach_add_([state["step"] for state in states], 1)
        torch._foreach_mul_(square_avgs, alpha)
        torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
        denominators = torch._foreach_sqrt(square_avgs)
        torch._foreach_add_(denominators, eps)
        torch._foreach_addcdiv_(params, grads, denominators, value=-lr)
