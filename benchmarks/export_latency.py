"""B12: batch-1 latency of an exported policy, onnxruntime against torch, for the default CartPole-v1
and Pendulum-v1 policies (A2C's default networks, 256x256 tanh; Pendulum with observation
normalization), in one run.

    .venv/bin/python -m benchmarks.export_latency [--calls 3000] [--rounds 5] [--no-docs]

Contenders, each acting deterministically on one observation at a time (batch 1), all on one CPU
thread, on the same 1,000 observations drawn from the observation space in turn:

* ``onnxruntime``: ``InferenceSession.run`` of the file ``maze export`` writes (the graph only);
* ``onnxruntime + runner``: ``ExportedPolicy.act`` of ``examples/run_exported_policy.py`` (the
  gymnasium observation in, the env's action out: what a deployed program calls);
* ``torchscript``: the ``--format torchscript`` file, called through ``torch.jit.load``;
* ``RunContext.compute_action``: the policy in eager torch through Maze's Python API.

The rounds alternate the contenders, so load drift hits all alike; the percentiles are over all
calls of all rounds. The policies are trained for one tiny epoch: latency does not depend on the
weights.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

import gymnasium
import numpy as np
import torch

from benchmarks.common import ROOT, machine, replace_section, scratch_dir

SECTION = "## B12: exported policy latency (batch 1)"
ENVS = {"CartPole-v1": {}, "Pendulum-v1": {"runner.normalize_observations": True}}
TINY = {
    "algorithm.epoch_length": 1,
    "algorithm.n_rollout_steps": 8,
    "runner.n_envs": 1,
    "runner.eval_episodes": 1,
}


def observations(env_id: str, n: int = 1000) -> list[np.ndarray]:
    """``n`` observations from the env's observation space (uniform, within +-3 where unbounded)."""
    space = gymnasium.make(env_id).observation_space
    low, high = np.maximum(space.low, -3.0), np.minimum(space.high, 3.0)
    return list(np.random.default_rng(0).uniform(low, high, (n, *space.shape)).astype(space.dtype))


def contenders(env_id: str, directory) -> dict:
    """``{name: act(observation)}`` for one env's default policy."""
    import onnxruntime

    from maze_core import RunContext

    spec = importlib.util.spec_from_file_location("runner", ROOT / "examples" / "run_exported_policy.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)

    rc = RunContext(
        env=env_id, overrides={**TINY, **ENVS[env_id]}, run_dir=directory / env_id, seed=0, silent=True
    )
    rc.train(n_epochs=1)
    onnx_file, torchscript_file = rc.export(), rc.export(format="torchscript")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    exported = runner.ExportedPolicy(str(onnx_file))
    exported.session = session  # one thread, as the others
    module = torch.jit.load(str(torchscript_file))

    def onnx_graph(observation):
        return session.run(None, {"observation": observation[np.newaxis]})

    def torchscript(observation):
        with torch.inference_mode():
            return module(torch.from_numpy(observation[np.newaxis]))

    def compute_action(observation):
        return rc.compute_action(observation, deterministic=True)

    return {
        "onnxruntime": onnx_graph,
        "onnxruntime + runner": exported.act,
        "torchscript": torchscript,
        "RunContext.compute_action": compute_action,
    }


def measure(act, recorded: list[np.ndarray], calls: int) -> list[float]:
    """Per-call latencies in microseconds."""
    for observation in recorded[:100]:  # warm-up
        act(observation)
    latencies = []
    for i in range(calls):
        observation = recorded[i % len(recorded)]
        start = time.perf_counter_ns()
        act(observation)
        latencies.append((time.perf_counter_ns() - start) / 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per contender and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = machine()
    results: dict[str, dict[str, list[float]]] = {}
    with scratch_dir() as directory:
        for env_id in ENVS:
            recorded = observations(env_id)
            acts = contenders(env_id, directory)
            results[env_id] = {name: [] for name in acts}
            for _ in range(args.rounds):
                for name, act in acts.items():
                    results[env_id][name] += measure(act, recorded, args.calls)
    load = info["load average at start (1, 5, 15 min)"]
    lines = [
        SECTION,
        "",
        f"Measured {info['date']}: `python -m benchmarks.export_latency --calls {args.calls} --rounds "
        f"{args.rounds}`; {info['cpu']} (load average at start {load}), "
        f"Python {info['python']}, torch {info['torch']}, onnxruntime {onnxruntime_version()}, numpy "
        f"{info['numpy']}, maze-core {info['maze-core']}. One thread each; what each contender "
        "covers: the docstring of `benchmarks/export_latency.py`.",
        "",
        "| env | contender | p50 (µs) | p99 (µs) | calls over 1 ms |",
        "|---|---|---|---|---|",
    ]
    for env_id, by_name in results.items():
        for name, latencies in by_name.items():
            p50, p99 = np.percentile(latencies, [50, 99])
            slow = np.mean(np.asarray(latencies) > 1000)
            lines.append(f"| {env_id} | {name} | {p50:,.0f} | {p99:,.0f} | {slow:.2%} |")
    if os.getloadavg()[0] >= os.cpu_count():
        lines += [
            "",
            "The machine was busy (load average at or above its CPU count at the end too): a p99 of "
            "milliseconds means that more than 1% of the calls took over 1 ms (last column), which "
            "includes waiting for the CPU; the p50s are the steady cost.",
        ]
    lines.append("")
    section = "\n".join(lines)
    print(section)
    if not args.no_docs:
        replace_section(ROOT / "docs" / "benchmarks.md", SECTION, section)


def onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    main()
