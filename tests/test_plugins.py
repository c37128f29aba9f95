"""Plugins written outside the package: a similarity, a search, an adapter and a backend
registered from a user module (and from an entry point) work on every backend."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import modelcentrality
from modelcentrality import ParameterError, rank
from modelcentrality._registry import load_plugins
from modelcentrality.engine import SIMILARITIES, get_similarity
from modelcentrality.execution import (
    ADAPTERS,
    BACKENDS,
    LocalBackend,
    ProcessBackend,
    make_backend,
    model_spec,
)
from modelcentrality.selection import SEARCHES
from modelcentrality.testing import CHECK_PROTOCOL, check_model

#: The plugins' similarity: FactorVAE cells at this group size, whatever the protocol's
#: (CHECK_PROTOCOL's is 10), so their cells can be told from the built-in ones.
PLUGIN_GROUP_SIZE = 5

PLUGIN = '''
"""A modelcentrality plugin in a user module (written by tests/test_plugins.py)."""
import dataclasses

import numpy as np

import modelcentrality as mc
from modelcentrality.engine import FACTORVAE
from modelcentrality.execution import Backend, LocalBackend
from modelcentrality.selection import FullSearch
from modelcentrality.testing import SyntheticModel, SyntheticWorld, mixing_matrix

GROUP_SIZE = {group_size}


def small_group_cells(source, encoders, protocol, rng, progress):
    small = protocol.with_overrides(group_size=GROUP_SIZE)
    return FACTORVAE.cells(source, encoders, small, rng, progress)


def small_group_cost(source, protocol):
    return FACTORVAE.cost(source, protocol.with_overrides(group_size=GROUP_SIZE))


SMALL_GROUPS = mc.register_similarity(
    dataclasses.replace(
        FACTORVAE, name="{prefix}small_groups", cells=small_group_cells, cost=small_group_cost
    )
)


class NotedSearch(FullSearch):
    name = "{prefix}noted_full"

    def search(self, *args, **kwargs):
        outcome = super().search(*args, **kwargs)
        outcome.stop_reason = "{prefix}plugin: " + outcome.stop_reason
        return outcome


class CountingBackend(Backend):
    name = "{prefix}counting"
    runs = 0

    def run(self, *args, **kwargs):
        type(self).runs += 1
        LocalBackend().run(*args, **kwargs)


class TravellingModel(SyntheticModel):
    def __init__(self, name, world, mixing, entanglement=0.0):
        super().__init__(name, world, mixing, entanglement)
        self.arguments = (world, mixing, entanglement)

    def to_spec(self, load=None, put=None):
        return {{"key": self.fingerprint(), "name": self.name, "arguments": self.arguments}}

    @classmethod
    def from_spec(cls, spec, threads, resolve=None):
        return cls(spec["name"], *spec["arguments"])


def make_zoo():
    world = SyntheticWorld.make(random_state=0)
    rng = np.random.default_rng(0)
    return [
        TravellingModel(f"m{{index}}", world, mixing_matrix(4, entanglement, rng), entanglement)
        for index, entanglement in enumerate([0.1, 0.1, 1.0, 1.0])
    ]
'''

#: The same entries, declared as entry points of a distribution instead of registered.
ENTRY_POINTS = """\
[modelcentrality.similarities]
ep_small_groups = mc_ep_plugin:SMALL_GROUPS

[modelcentrality.searches]
ep_noted_full = mc_ep_plugin:NotedSearch

[modelcentrality.backends]
ep_counting = mc_ep_plugin:CountingBackend

[modelcentrality.adapters]
ep_travelling = mc_ep_plugin:TravellingModel
"""


def _registration_lines(prefix: str) -> str:
    return textwrap.dedent(f"""
        mc.register_search(NotedSearch)
        mc.register_backend(CountingBackend)
        mc.register_adapter(TravellingModel, name="{prefix}travelling")
    """)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory):
    """A folder on sys.path holding a registering plugin module and an entry-point
    distribution (its module registers nothing itself)."""
    folder = tmp_path_factory.mktemp("plugins")
    source = PLUGIN.format(group_size=PLUGIN_GROUP_SIZE, prefix="")
    (folder / "mc_user_plugin.py").write_text(source + _registration_lines(""))
    entry_source = PLUGIN.format(group_size=PLUGIN_GROUP_SIZE, prefix="ep_")
    # Without registration calls: the entry points alone make it known.
    entry_source = entry_source.replace("mc.register_similarity(", "(")
    (folder / "mc_ep_plugin.py").write_text(entry_source)
    info = folder / "mc_ep_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mc-ep-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    for registry in (SIMILARITIES, SEARCHES, BACKENDS, ADAPTERS):
        sorted(registry)  # entry points are read before the plugin arrives
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for registry in (SIMILARITIES, SEARCHES, BACKENDS, ADAPTERS):
        for name in ("small_groups", "noted_full", "counting", "travelling"):
            registry.pop(name, None)


@pytest.fixture(scope="module")
def user_plugin(plugin_dir):
    import mc_user_plugin

    return mc_user_plugin


def _protocol(similarity: str):
    return dataclasses.replace(CHECK_PROTOCOL, similarity=similarity)


@pytest.fixture(scope="module")
def references(user_plugin):
    """The built-in similarity's cross matrices at the test protocol and at the
    plugins' group size (computed in this process)."""
    zoo = user_plugin.make_zoo()
    plain = rank(zoo, CHECK_PROTOCOL, n_boot=0).cross
    small = rank(zoo, CHECK_PROTOCOL.with_overrides(group_size=PLUGIN_GROUP_SIZE), n_boot=0)
    assert not np.array_equal(plain, small.cross), "the plugin's cells must be distinguishable"
    return small.cross


def _rank_with_plugins(module, prefix: str, backend) -> modelcentrality.RankResult:
    with backend:
        return rank(
            module.make_zoo(),
            _protocol(f"{prefix}small_groups"),
            search=f"{prefix}noted_full",
            backend=backend,
            n_boot=0,
        )


def test_registered_entries_are_found_by_name(user_plugin):
    assert get_similarity("small_groups") is user_plugin.SMALL_GROUPS
    assert SEARCHES["noted_full"] is user_plugin.NotedSearch
    assert isinstance(make_backend("counting"), user_plugin.CountingBackend)
    model = user_plugin.make_zoo()[0]
    assert model_spec(model)["adapter"] == "travelling"
    check_model(model)  # includes the rebuild from its spec through the registry
    with pytest.raises(ParameterError, match="backend 'counting' does not take --jobs"):
        make_backend("counting", n_jobs=2)
    with pytest.raises(ParameterError, match="similarity 'factorvae' is built in"):
        modelcentrality.register_similarity(user_plugin.SMALL_GROUPS, name="factorvae")


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_user_plugins_rank_on_local_and_process_backends(user_plugin, references, jobs):
    backend = LocalBackend() if jobs == 1 else ProcessBackend(n_jobs=jobs, threads=1)
    result = _rank_with_plugins(user_plugin, "", backend)
    np.testing.assert_array_equal(result.cross, references)
    assert result.stop_reason.startswith("plugin: ")


def test_registered_backend_runs_the_ranking(user_plugin, references):
    backend = make_backend("counting")
    result = _rank_with_plugins(user_plugin, "", backend)
    assert user_plugin.CountingBackend.runs > 0
    np.testing.assert_array_equal(result.cross, references)


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_entry_point_plugins_rank_on_local_and_process_backends(plugin_dir, references, jobs):
    assert {"ep_small_groups"} <= set(SIMILARITIES) and "ep_counting" in BACKENDS
    import mc_ep_plugin

    backend = make_backend("ep_counting") if jobs == 1 else ProcessBackend(n_jobs=jobs, threads=1)
    result = _rank_with_plugins(mc_ep_plugin, "ep_", backend)
    np.testing.assert_array_equal(result.cross, references)
    assert result.stop_reason.startswith("ep_plugin: ")
    assert model_spec(mc_ep_plugin.make_zoo()[0])["adapter"] == "ep_travelling"


def test_entries_that_cannot_travel_are_one_line_errors(user_plugin):
    zoo = user_plugin.make_zoo()

    class LocalModel(user_plugin.TravellingModel):
        pass

    name = "local_class"
    modelcentrality.register_adapter(LocalModel, name=name)
    similarity = modelcentrality.register_similarity(
        dataclasses.replace(user_plugin.SMALL_GROUPS, name="unassigned")
    )
    try:
        local_models = [LocalModel(m.name, *m.arguments) for m in zoo]
        with pytest.raises(ParameterError) as error:
            rank(local_models, CHECK_PROTOCOL, backend=ProcessBackend(2, 1), n_boot=0)
        message = str(error.value)
        assert "adapter 'local_class'" in message and "function's local" in message
        with pytest.raises(ParameterError) as error:
            rank(zoo, _protocol("unassigned"), backend=ProcessBackend(2, 1), n_boot=0)
        message = str(error.value)
        assert "similarity 'unassigned'" in message and "not a module-level name" in message
        assert "\n" not in message
        assert "importable module (or run in this process: n_jobs=1" in message
        # In this process, both work.
        assert rank(local_models, CHECK_PROTOCOL, n_boot=0).cross.shape == (4, 4)
        assert similarity is get_similarity("unassigned")
    finally:
        del ADAPTERS[name], SIMILARITIES["unassigned"]


def test_a_worker_that_cannot_import_a_plugin_says_so_in_one_line():
    with pytest.raises(ParameterError, match="cannot import similarity 'gone'") as error:
        load_plugins((("similarity", "gone", "mc_no_such_plugin:SIMILARITY"),))
    assert "\n" not in str(error.value) and "PYTHONPATH" in str(error.value)


@pytest.mark.slow
def test_a_similarity_registered_in_main_is_a_one_line_error(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        import dataclasses
        import sys

        import modelcentrality as mc
        from modelcentrality.engine import FACTORVAE
        from modelcentrality.execution import ProcessBackend
        from modelcentrality.testing import CHECK_PROTOCOL, make_leader_zoo

        MAIN = mc.register_similarity(dataclasses.replace(FACTORVAE, name="in_main"))

        if __name__ == "__main__":
            protocol = dataclasses.replace(CHECK_PROTOCOL, similarity="in_main")
            try:
                mc.rank(make_leader_zoo("distinct", 2), protocol, backend=ProcessBackend(2, 1))
            except mc.ParameterError as exc:
                print(exc)
                sys.exit(3)
    """))
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 3, run.stderr
    assert run.stdout.strip().splitlines() == [
        "the process backend cannot send similarity 'in_main' to its workers: it is defined "
        "in __main__, which they cannot import; define it at the top level of an importable "
        "module (or run in this process: n_jobs=1 on the local backend)"
    ]


@pytest.mark.slow
def test_cli_choices_come_from_the_registries(plugin_dir):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(plugin_dir), os.environ.get("PYTHONPATH", "")]
    )}
    run = subprocess.run(
        [sys.executable, "-m", "modelcentrality.cli", "rank", "--help"],
        capture_output=True, text=True, timeout=300, env=environment,
    )
    assert run.returncode == 0, run.stderr
    text = " ".join(run.stdout.split())
    assert "ep_counting" in text and "ep_noted_full" in text


@pytest.mark.slow
def test_plugins_rank_on_ray(plugin_dir, user_plugin, references):
    ray = pytest.importorskip("ray")
    import mc_ep_plugin

    from modelcentrality.execution._ray import RayBackend

    # Ray's workers do not get this process's sys.path: the plugins' folder travels on
    # their PYTHONPATH.
    path = os.pathsep.join([str(plugin_dir), os.environ.get("PYTHONPATH", "")])
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        for module, prefix in ((user_plugin, ""), (mc_ep_plugin, "ep_")):
            result = _rank_with_plugins(module, prefix, RayBackend())
            np.testing.assert_array_equal(result.cross, references)
            assert result.stop_reason.startswith(f"{prefix}plugin: ")
    finally:
        ray.shutdown()
