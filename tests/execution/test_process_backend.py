"""Worker processes on this machine give exactly the single-process results."""

import json

import numpy as np
import pytest

from modelcentrality import ModelCentralityError, ModelError, load_zoo, rank
from modelcentrality.cli import main
from modelcentrality.engine._scoring import source_observation_count
from modelcentrality.engine._sources import GeneratedFactors
from modelcentrality.engine._votes import get_protocol
from modelcentrality.execution._backends import LocalBackend, ProcessBackend
from modelcentrality.execution._transport import model_spec, open_model
from tests._helpers import FAST, InMemoryModel, from_bytes, run_tasks


def test_same_results_and_checkpoints_as_single_process(synthetic_zoo_master, tmp_path):
    models = load_zoo(synthetic_zoo_master)
    local = rank(models, random_state=3, n_boot=0, **FAST)
    parallel = rank(
        models,
        random_state=3,
        n_boot=0,
        cache_dir=tmp_path,
        backend=ProcessBackend(n_jobs=2, threads=1),
        **FAST,
    )
    np.testing.assert_array_equal(parallel.cross, local.cross)
    np.testing.assert_array_equal(parallel.revised_cross, local.revised_cross)
    assert parallel.ranking == local.ranking
    assert len(list(tmp_path.glob("*/*.npz"))) == len(models) ** 2


def test_partial_tasks_in_memory_models_and_progress(synthetic_zoo_master):
    files = load_zoo(synthetic_zoo_master)[:3]
    # Models built from bytes travel as bytes.
    models = [from_bytes(m) for m in files]
    protocol = get_protocol("paper").with_overrides(**FAST)
    tasks = [(0, [0, 2]), (2, [1])]

    def collect(backend):
        return run_tasks(backend, models, tasks, protocol, 4)

    local_pairs, _ = collect(LocalBackend())
    pairs, progress = collect(ProcessBackend(n_jobs=2))
    assert set(pairs) == {(0, 0), (0, 2), (2, 1)}
    for key, result in local_pairs.items():
        np.testing.assert_array_equal(pairs[key].train_table, result.train_table)
        assert pairs[key].score == result.score
    per_source = [source_observation_count(GeneratedFactors(m), protocol) for m in models]
    assert sorted(progress) == sorted([2 * per_source[0], per_source[2]])


def test_worker_keeps_models_open(synthetic_zoo_master):
    model = load_zoo(synthetic_zoo_master)[0]
    spec = model_spec(model, "path")
    first = open_model(spec, threads=1)
    assert open_model(spec, threads=1) is first
    assert open_model(spec, threads=2) is not first
    np.testing.assert_array_equal(
        first.encode(first.generate(model.sample_prior(8, 0))),
        model.encode(model.generate(model.sample_prior(8, 0))),
    )


def test_errors_in_workers_are_one_line(synthetic_zoo):
    models = load_zoo(synthetic_zoo)[:3]
    (synthetic_zoo / models[1].name / "encoder.onnx").unlink()
    with pytest.raises(ModelError, match=f"model '{models[1].name}'.*missing file.*same path"):
        rank(models, n_boot=0, backend=ProcessBackend(n_jobs=2), **FAST)
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        ProcessBackend(n_jobs=0)


def test_torch_or_numpy_models_are_refused(synthetic_zoo_master):
    models = [load_zoo(synthetic_zoo_master)[0], InMemoryModel()]
    protocol = get_protocol("paper").with_overrides(**FAST)
    with pytest.raises(ModelCentralityError, match="process backend cannot send a InMemoryModel"):
        ProcessBackend(n_jobs=2).run(models, [(0, [1])], protocol, 0, lambda *a: None)


def test_cli_jobs_matches_single_process(synthetic_zoo_master, tmp_path):
    outputs = {}
    for name, extra in (("one", []), ("two", ["--jobs", "2"])):
        out = tmp_path / f"{name}.json"
        args = ["rank", str(synthetic_zoo_master), "-o", str(out), "--quiet", "--n-boot", "0"]
        args += ["--votes", "120", "--scale-samples", "3000", *extra]
        assert main(args) == 0
        outputs[name] = json.loads(out.read_text())
    assert outputs["two"]["cross"] == outputs["one"]["cross"]
    assert outputs["two"]["ranking"] == outputs["one"]["ranking"]
    assert main(["rank", str(synthetic_zoo_master), "--backend", "ray", "--jobs", "2"]) == 2


def test_workers_serve_every_budget_round_and_stop_after(synthetic_zoo_master, monkeypatch):
    from modelcentrality.execution import _backends as backends
    from modelcentrality.selection import PrecisionSearch

    pools = []
    real_pool = backends.ProcessPoolExecutor

    def counted_pool(*args, **kwargs):
        pools.append(real_pool(*args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(backends, "ProcessPoolExecutor", counted_pool)
    zoo = load_zoo(synthetic_zoo_master)
    models = [zoo[0], zoo[4], zoo[5]]
    search = PrecisionSearch(0.004, refine_top=False)
    settings = {"search": search, "n_boot": 0, "random_state": 2}
    local = rank(models, **settings)
    backend = ProcessBackend(n_jobs=2, threads=1)
    parallel = rank(models, backend=backend, **settings)
    # More than one round ran, on one pool, which is shut down when rank returns.
    assert local.votes.max() > PrecisionSearch.pilot_votes
    assert len(pools) == 1 and backend._pool is None
    np.testing.assert_array_equal(parallel.votes, local.votes)
    np.testing.assert_array_equal(parallel.cross, local.cross)
    # Outside rank and outside a with block, a call does not keep its workers.
    protocol = get_protocol("paper").with_overrides(**FAST)
    backend.run(models, [(0, [1])], protocol, 0, lambda *a: None)
    assert len(pools) == 2 and backend._pool is None
