"""Training plumbing shared by all algorithms: configs, trainers, rollouts, evaluation, logging."""

from maze_core.lazy import lazy_exports

_NAMES = {
    "AlgorithmConfig": "maze_core.training.config",
    "Trainer": "maze_core.training.trainer",
    "ActorCriticTrainer": "maze_core.training.trainer",
    "RolloutEvaluator": "maze_core.training.evaluator",
    "BestModelSelection": "maze_core.training.model_selection",
    "VectorEnvCollector": "maze_core.training.rollout",
    "Rollout": "maze_core.training.batches",
    "compute_gae": "maze_core.training.returns",
    "setup_logging": "maze_core.training.writers",
    "Device": "maze_core.training.devices",
    "CPUDevice": "maze_core.training.devices",
    "resolve_device": "maze_core.training.devices",
}
__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)
