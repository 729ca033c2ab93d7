"""A PPO plugin as a third party wrote it against the algorithm API before OnPolicyAlgorithmConfig."""
