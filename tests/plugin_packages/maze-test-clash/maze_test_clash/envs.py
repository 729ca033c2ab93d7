"""The clashing plugin's env factory."""


def make_corridor():
    import gymnasium

    return gymnasium.make("CartPole-v1")
