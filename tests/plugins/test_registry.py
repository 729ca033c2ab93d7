"""The registry in this process: built-ins, first-party names, in-process registration, errors."""

from __future__ import annotations

import json

import pytest

import maze_core
from maze_core import hookimpl, plugins
from maze_core.errors import PluginError, UnknownNameError

FIRST_PARTY = {
    "maze-a2c": {"algorithm": ["a2c"]},
    "maze-ppo": {"algorithm": ["ppo"]},
    "maze-policies": {"policy": ["probabilistic", "q_greedy"]},
    "maze-critics": {"critic": ["shared_state", "shared_state_action", "step_state", "step_state_action"]},
    "maze-runners": {"runner": ["dev", "local"]},
    "maze-cuda": {"device": ["cuda"]},
    "maze-ray": {"runner": ["ray"]},
    "maze-dqn": {"algorithm": ["dqn"]},
    "maze-sac": {"algorithm": ["sac"]},
}


def by_distribution() -> dict[str, plugins.PluginInfo]:
    return {info.distribution: info for info in plugins.plugins()}


class EnvPlugin:
    """An in-process plugin, as a notebook would write it."""

    def __init__(self, *names, target="json:JSONDecoder"):
        self.env_names = names
        self.target = target

    @hookimpl
    def register_envs(self, register):
        for name in self.env_names:
            register(name, self.target)


def test_kernel_builtins_are_listed_first_as_maze_core():
    kernel = plugins.plugins()[0]
    assert kernel.distribution == "maze-core"
    assert kernel.version == maze_core.__version__
    assert kernel.status == "ok"
    assert kernel.provides == {
        "env": ["CartPoleNoVel-v1"],
        "distribution": ["bernoulli", "categorical", "gaussian", "multi_categorical", "squashed_gaussian"],
        "device": ["cpu"],
    }


def test_first_party_plugins_register_their_names():
    infos = by_distribution()
    for distribution, provides in FIRST_PARTY.items():
        assert infos[distribution].status == "ok", infos[distribution].error
        assert infos[distribution].provides == provides
        for kind, names in provides.items():
            assert set(names) <= set(plugins.names(kind))
    assert plugins.names("device") == ["cpu", "cuda"]


def test_names_are_sorted_and_plugin_info_is_json_ready():
    plugins.register(EnvPlugin("zeta", "alpha", "Mid"), name="sorting")
    assert plugins.names("env") == ["CartPoleNoVel-v1", "Mid", "alpha", "zeta"]  # with the kernel's
    info = by_distribution()["sorting"]
    assert json.loads(json.dumps(info.to_dict())) == {
        "distribution": "sorting",
        "version": None,
        "provides": {"env": ["Mid", "alpha", "zeta"]},
        "status": "ok",
    }


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match=r"Unknown algorithm 'a2'\. Did you mean 'a2c'\?") as error:
        plugins.load("algorithm", "a2")
    assert "Available algorithms: a2c" in str(error.value)
    with pytest.raises(UnknownNameError, match="Did you mean 'squashed_gaussian'"):
        plugins.load("distribution", "Squashed_Gausian")


def test_unknown_kind_lists_the_kinds():
    with pytest.raises(UnknownNameError, match=r"Unknown kind 'envs'\. Did you mean 'env'\?") as error:
        plugins.names("envs")
    assert "env, algorithm, policy, critic, runner, distribution, device" in str(error.value)
    with pytest.raises(UnknownNameError):
        plugins.load("model", "x")


def test_register_in_process_takes_effect_immediately():
    plugins.names("env")  # discovery has already happened
    plugins.register(EnvPlugin("notebook-env"), name="notebook")
    assert "notebook-env" in plugins.names("env")
    assert plugins.load("env", "notebook-env") is json.JSONDecoder
    assert by_distribution()["notebook"].status == "ok"


def test_register_objects_and_lazy_targets():
    def factory():
        return "env"

    plugins.register(EnvPlugin("object-env", target=factory), name="objects")
    assert plugins.load("env", "object-env") is factory

    plugins.register(EnvPlugin("lazy-env", target="maze_test_lazy_target:make"), name="lazy")
    with pytest.raises(PluginError) as error:  # imported only now, at load time
        plugins.load("env", "lazy-env")
    message = str(error.value)
    assert "'lazy'" in message and "'maze_test_lazy_target:make'" in message
    assert "No module named 'maze_test_lazy_target'" in message
    assert isinstance(error.value.__cause__, ModuleNotFoundError)

    plugins.register(EnvPlugin("missing-attribute", target="json:NoSuchThing"), name="attribute")
    with pytest.raises(PluginError, match="AttributeError") as error:
        plugins.load("env", "missing-attribute")
    assert isinstance(error.value.__cause__, AttributeError)


def test_load_caches_the_imported_object():
    plugins.register(EnvPlugin("cached", target="json.decoder:JSONDecoder.decode"), name="cache")
    first = plugins.load("env", "cached")
    assert first is plugins.load("env", "cached")
    assert first is json.JSONDecoder.decode


def test_register_again_under_the_same_name_replaces():
    plugins.register(EnvPlugin("first"), name="cell")
    plugins.register(EnvPlugin("second"), name="cell")
    assert "first" not in plugins.names("env")
    assert "second" in plugins.names("env")
    assert [info.distribution for info in plugins.plugins()].count("cell") == 1


def test_register_module_defaults_to_its_name():
    import types

    module = types.ModuleType("my_notebook_plugin")

    @hookimpl
    def register_runners(register):
        register("notebook-runner", "json:JSONEncoder")

    module.register_runners = register_runners
    plugins.register(module)
    assert by_distribution()["my_notebook_plugin"].provides == {"runner": ["notebook-runner"]}


def test_unregister():
    plugins.register(EnvPlugin("temporary"), name="temporary")
    plugins.unregister("temporary")
    assert "temporary" not in plugins.names("env")
    assert "temporary" not in by_distribution()
    with pytest.raises(UnknownNameError, match="No plugin named 'temporary'"):
        plugins.unregister("temporary")


def test_register_rejects_an_object_without_hooks():
    with pytest.raises(PluginError, match=r"no functions decorated with @maze_core\.hookimpl"):
        plugins.register(object(), name="empty")
    assert "empty" not in by_distribution()


def test_register_rejects_a_misspelled_hook():
    class Misspelled:
        @hookimpl
        def register_env(self, register):
            register("x", "json:JSONDecoder")

    with pytest.raises(
        PluginError, match=r"'register_env' is not a Maze hook\. Did you mean 'register_envs'"
    ):
        plugins.register(Misspelled())
    assert "Misspelled" not in by_distribution()


def test_register_reports_a_hook_that_raises():
    class Raising:
        @hookimpl
        def register_envs(self, register):
            raise ValueError("bad config")

    with pytest.raises(PluginError, match="hook register_envs raised ValueError: bad config") as error:
        plugins.register(Raising(), name="raising")
    assert isinstance(error.value.__cause__, ValueError)
    assert "raising" not in by_distribution()


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("bad-target", "json.JSONDecoder", "not of the form 'package.module:Attribute'"),
        ("", "json:JSONDecoder", "non-empty strings"),
        ("none", None, "target is None"),
    ],
)
def test_register_validates_names_and_targets(name, target, message):
    with pytest.raises(PluginError, match=message):
        plugins.register(EnvPlugin(name, target=target), name="invalid")


def test_register_cannot_take_the_name_of_an_installed_plugin():
    with pytest.raises(PluginError, match="'maze-a2c' is installed already"):
        plugins.register(EnvPlugin("x"), name="maze-a2c")


def test_in_process_duplicates_break_neither_and_qualified_names_select_one():
    plugins.register(EnvPlugin("shared", "only-a"), name="plugin-a")
    plugins.register(EnvPlugin("shared", "only-b"), name="plugin-b")
    with pytest.raises(
        PluginError, match="choose one by its qualified name: plugin-a:shared, plugin-b:shared"
    ):
        plugins.load("env", "shared")
    assert plugins.load("env", "plugin-b:shared") is json.JSONDecoder
    assert plugins.load("env", "only-a") is json.JSONDecoder
    infos = by_distribution()
    assert (infos["plugin-a"].status, infos["plugin-a"].error) == ("ok", None)
    assert infos["plugin-a"].clashes == [
        "env 'shared' is also provided by plugin-b: select this one as plugin-a:shared"
    ]
    with pytest.raises(
        UnknownNameError, match="Plugin 'plugin-a' provides no env 'missing'; its envs: only-a, shared"
    ):
        plugins.load("env", "plugin-a:missing")
    plugins.unregister("plugin-b")
    assert plugins.load("env", "shared") is json.JSONDecoder
    assert by_distribution()["plugin-a"].clashes == []


def test_reload_drops_in_process_plugins():
    plugins.register(EnvPlugin("gone-after-reload"), name="reloaded")
    plugins.reload()
    assert "gone-after-reload" not in plugins.names("env")
