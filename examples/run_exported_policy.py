"""Run a policy exported with ``maze export`` with only numpy and onnxruntime: no torch, no Maze.

    maze export RUN_DIR                                   # writes RUN_DIR/policy.onnx
    python examples/run_exported_policy.py RUN_DIR/policy.onnx --env CartPole-v1 --episodes 3

The class :class:`ExportedPolicy` is all a program needs to act with the file (copy it into yours):
the file holds the observation normalization, the network, the action masking and the action's
post-processing, and, as metadata, what it takes and returns. gymnasium is imported only to run
the example's episodes.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import onnxruntime

FORMAT_VERSION = 1  # the metadata layout this runner reads


class ExportedPolicy:
    """An exported policy: ``act(observation)`` takes what the env returns (one observation, or a
    batch with a leading dim) and returns what ``env.step`` takes (one action, or a batch)."""

    def __init__(self, path: str):
        try:
            with open(path, "rb") as file:
                model = file.read()
            # from bytes: the model is data, and it may not name other files to read weights from
            self.session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
            metadata = self.session.get_modelmeta().custom_metadata_map["maze"]
        except KeyError:
            raise ValueError(f"{path} is an ONNX model, but not one `maze export` wrote") from None
        except Exception as error:  # onnxruntime's errors name the cause in their first line
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(f"{path} is not a readable ONNX file: {reason}") from None
        self.metadata = json.loads(metadata)
        if self.metadata["format_version"] > FORMAT_VERSION:
            raise ValueError(
                f"{path} has metadata version {self.metadata['format_version']}; update this runner"
            )
        self.inputs = self.metadata["inputs"]
        self.outputs = [output["name"] for output in self.metadata["outputs"]]

    def act(self, observation):
        """The deterministic action for ``observation``."""
        if self.metadata["observation_form"] == "array":
            observation = {"observation": observation}
        feeds, batched = {}, True
        for spec in self.inputs:
            value = np.asarray(observation[spec["name"]], dtype=spec["dtype"])
            batched = value.ndim > len(spec["shape"])
            feeds[spec["name"]] = value if batched else value[np.newaxis]
        actions = dict(zip(self.outputs, self.session.run(self.outputs, feeds), strict=True))
        if not batched:
            actions = {head: action[0] for head, action in actions.items()}
        return actions["action"] if self.metadata["action_form"] == "array" else actions


def main() -> None:
    parser = argparse.ArgumentParser(description="Run episodes of a gymnasium env with an exported policy.")
    parser.add_argument("policy", help="the .onnx file `maze export` wrote")
    parser.add_argument("--env", required=True, help="a gymnasium id, e.g. CartPole-v1")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        policy = ExportedPolicy(args.policy)
    except (OSError, ValueError) as error:
        sys.exit(f"Error: {error}")

    import gymnasium

    env = gymnasium.make(args.env)
    for episode in range(args.episodes):
        observation, _ = env.reset(seed=args.seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(policy.act(observation))
            total, length, done = total + float(reward), length + 1, terminated or truncated
        print(f"episode {episode}: return {total:.2f}, length {length}")
    env.close()


if __name__ == "__main__":
    main()
