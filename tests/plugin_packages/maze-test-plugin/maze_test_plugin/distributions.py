"""A placeholder for a distribution class; the registry tests only check that the name resolves."""


class UniformDistribution:
    pass
