"""A corpus of hostile zoos and options, built on the fly.

Every case asserts what a bad zoo gets: the exit status, exactly one line on stderr
(naming the culprit, escaped, without a traceback or runtime log lines), nothing read or
written outside the temporary zoo, and, where good models remain, the ranking those good
models get on their own. The CLI runs in this process; only the cases that kill or
interrupt a run start a subprocess.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from modelcentrality.cli import main
from modelcentrality.contract._screening import probe_model
from modelcentrality.io import load_model
from modelcentrality.testing._synthetic import (
    make_synthetic_zoo,
    mixing_matrix,
    write_synthetic_model,
)
from tests._helpers import one_line, process_alive
from tests._helpers import run_cli as run

FAST = ["--votes", "100", "--group-size", "10", "--scale-samples", "200", "--n-boot", "0"]
FAST += ["--quiet"]
GOOD = (0.1, 0.1, 1.0, 1.0)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """Four good models and their world; the reference ranking of those four alone."""
    root = tmp_path_factory.mktemp("corpus")
    world = make_synthetic_zoo(root / "zoo", GOOD, random_state=0)
    assert main(["rank", str(root / "zoo"), *FAST, "-o", str(root / "ref.json")]) == 0
    return root / "zoo", world, json.loads((root / "ref.json").read_text())


@pytest.fixture
def zoo(master, tmp_path):
    path = tmp_path / "zoo"
    shutil.copytree(master[0], path)
    return path


@pytest.fixture
def world(master):
    return master[1]


@pytest.fixture
def reference(master):
    return master[2]


@pytest.fixture
def outside(tmp_path):
    """A folder next to the zoo whose files must be neither read nor written.

    Once armed (:func:`untouched`), every file there has an access time older than its
    modification time, which any read moves forward (also on ``relatime`` mounts, and
    also for reads by ONNX Runtime's C++ code, which no Python audit hook sees).
    """
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.data").write_bytes(np.arange(4096, dtype=np.float32).tobytes())
    watched = {}

    def arm():
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                content = path.read_bytes()
                mtime = path.stat().st_mtime_ns
                os.utime(path, ns=(mtime - 10**12, mtime))
                watched[path] = (mtime - 10**12, mtime, content)

    yield folder, arm
    for path, (atime, mtime, content) in watched.items():
        stat = path.stat()
        assert stat.st_atime_ns == atime, f"{path} was read"
        assert stat.st_mtime_ns == mtime, f"{path} was written"
        assert path.read_bytes() == content


def untouched(outside_fixture):
    """Arm the outside-folder watch: call after building the zoo, before running."""
    outside_fixture[1]()


# --------------------------------------------------------------------------- helpers


def rank_json(capfd, zoo, *extra):
    """Rank with -o; stderr without its "wrote FILE" line."""
    out = zoo.parent / "result.json"
    out.unlink(missing_ok=True)
    status, _, err = run(capfd, "rank", zoo, *FAST, "-o", out, *extra)
    err = "\n".join(line for line in err.splitlines() if line != f"wrote {out}")
    return status, err, (json.loads(out.read_text()) if status == 0 else None)


def same_ranking(result, reference):
    assert result["names"] == reference["names"]
    assert result["scores"] == reference["scores"]
    assert result["ranking"] == reference["ranking"]
    assert all(np.isfinite(result["scores"]))


def add_model(zoo, world, folder, entanglement=0.5, seed=7, **metadata):
    mixing = mixing_matrix(world.n_factors, entanglement, np.random.default_rng(seed))
    return write_synthetic_model(world, mixing, zoo / folder, metadata or None)


def save(model: onnx.ModelProto, path: Path, check: bool = True) -> None:
    if check:
        onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


def const(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def poison_nodes(values: str, limit: str, out: str) -> list[onnx.NodeProto]:
    """``out`` = 0 where every entry of a row of ``values`` is below ``limit``, else NaN."""
    return [
        helper.make_node("Sub", [limit, values], [out + "_room"]),
        helper.make_node("ReduceMin", [out + "_room"], [out + "_min"], axes=[1], keepdims=1),
        helper.make_node("Sqrt", [out + "_min"], [out + "_root"]),
        helper.make_node("Mul", [out + "_root", "poison_zero"], [out]),
    ]


def nan_for_large_latents(folder: Path, threshold: float = 0.995) -> None:
    """The generator returns NaN for any latent above ``threshold`` (rare: 8 probe
    samples pass, a full run does not)."""
    model = onnx.load(str(folder / "generator.onnx"))
    nodes = list(model.graph.node)
    sigmoid = next(n for n in nodes if n.op_type == "Sigmoid")
    sigmoid.output[0] = "flat_ok"
    extra = poison_nodes("latents", "poison_limit", "poison")
    extra.append(helper.make_node("Add", ["flat_ok", "poison"], ["flat"]))
    reshape = nodes.index(next(n for n in nodes if n.op_type == "Reshape"))
    del model.graph.node[:]
    model.graph.node.extend(nodes[:reshape] + extra + nodes[reshape:])
    model.graph.initializer.extend([const("poison_limit", threshold), const("poison_zero", 0)])
    save(model, folder / "generator.onnx")


def fails_on_foreign_images(folder: Path) -> None:
    """Own images lie in [0, 0.5); the encoder returns NaN for any pixel above 0.5, as
    every other model's images have."""
    generator = onnx.load(str(folder / "generator.onnx"))
    nodes = list(generator.graph.node)
    next(n for n in nodes if n.op_type == "Sigmoid").output[0] = "flat_full"
    reshape = nodes.index(next(n for n in nodes if n.op_type == "Reshape"))
    halve = helper.make_node("Mul", ["flat_full", "halve_c"], ["flat"])
    del generator.graph.node[:]
    generator.graph.node.extend(nodes[:reshape] + [halve] + nodes[reshape:])
    generator.graph.initializer.append(const("halve_c", 0.5))
    save(generator, folder / "generator.onnx")

    encoder = onnx.load(str(folder / "encoder.onnx"))
    nodes = list(encoder.graph.node)
    nodes[-1].output[0] = "codes_ok"
    nodes += poison_nodes("flat", "poison_limit", "poison")
    nodes.append(helper.make_node("Add", ["codes_ok", "poison"], ["codes"]))
    del encoder.graph.node[:]
    encoder.graph.node.extend(nodes)
    encoder.graph.initializer.extend([const("poison_limit", 0.5), const("poison_zero", 0)])
    save(encoder, folder / "encoder.onnx")


def to_external_data(path: Path, location: str) -> None:
    model = onnx.load(str(path))
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=100,  # shapes stay inline: the runtime needs them when it loads
    )


def point_external_data(path: Path, location: str) -> None:
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    path.write_bytes(model.SerializeToString())


def edit_json(path: Path, **changes) -> None:
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


# ------------------------------------------------------------- 1-2: stale or tampered cache


def test_cache_key_covers_external_data(capfd, zoo, world, tmp_path):
    folder = add_model(zoo, world, "ext", entanglement=0.1, seed=3)
    for name in ("generator.onnx", "encoder.onnx"):
        to_external_data(folder / name, name + ".data")
    cache = tmp_path / "cache"
    status, err, first = rank_json(capfd, zoo, "--cache", cache)
    assert status == 0, err
    graphs = [(folder / n).read_bytes() for n in ("generator.onnx", "encoder.onnx")]

    # New weights in the data files; the .onnx files stay byte for byte the same.
    shutil.rmtree(folder)
    add_model(zoo, world, "ext", entanglement=1.0, seed=4)
    for name in ("generator.onnx", "encoder.onnx"):
        to_external_data(folder / name, name + ".data")
    assert [(folder / n).read_bytes() for n in ("generator.onnx", "encoder.onnx")] == graphs

    status, err, cached = rank_json(capfd, zoo, "--cache", cache)
    assert status == 0, err
    status, err, fresh = rank_json(capfd, zoo)
    assert status == 0, err
    assert cached["scores"] == fresh["scores"]
    assert cached["scores"] != first["scores"]


@pytest.mark.parametrize("damage", ["nan", "altered", "garbage", "swapped"])
def test_tampered_cache_entries_are_recomputed(capfd, zoo, tmp_path, reference, damage):
    cache = tmp_path / "cache"
    status, err, first = rank_json(capfd, zoo, "--cache", cache)
    assert status == 0, err
    same_ranking(first, reference)
    entries = sorted(cache.rglob("*.npz"))
    assert len(entries) == 16
    victim = entries[5]
    if damage == "garbage":
        victim.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "swapped":
        victim.write_bytes(entries[6].read_bytes())
    else:
        with np.load(victim) as data:
            arrays = dict(data)
        arrays["score"] = np.float64(np.nan if damage == "nan" else 0.123)
        with open(victim, "wb") as handle:
            np.savez(handle, **arrays)
    status, err, again = rank_json(capfd, zoo, "--cache", cache)
    assert status == 0, err
    same_ranking(again, reference)
    assert again["cross"] == first["cross"]


def test_cache_that_is_a_file_or_holds_a_folder(capfd, zoo, tmp_path):
    cache_file = tmp_path / "cache_file"
    cache_file.write_text("x")
    status, _, err = run(capfd, "rank", zoo, *FAST, "--cache", cache_file)
    assert status == 2  # checked with the options, before the run
    one_line(err, "cache_file", "is a file", "(see --help)")

    cache = tmp_path / "cache"
    assert rank_json(capfd, zoo, "--cache", cache)[0] == 0
    entry = sorted(cache.rglob("*.npz"))[0]
    entry.unlink()
    entry.mkdir()
    status, _, err = run(capfd, "rank", zoo, *FAST, "--cache", cache)
    assert status == 1
    one_line(err, entry.name, "not a regular file")


def test_cache_inside_the_zoo_is_not_a_model(capfd, zoo, reference):
    for _ in range(2):
        status, err, result = rank_json(capfd, zoo, "--cache", zoo / "cache")
        assert status == 0, err
        same_ranking(result, reference)


# ------------------------------------------------------- 3-4: external data and symlinks


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_model_folder(capfd, zoo, world, outside, reference, where):
    folder = add_model(zoo, world, "leaky")
    to_external_data(folder / "generator.onnx", "generator.data")
    secret = outside[0] / "secret.data"
    if where == "dotdot":
        point_external_data(folder / "generator.onnx", "../../outside/secret.data")
    elif where == "absolute":
        point_external_data(folder / "generator.onnx", str(secret))
    else:
        (folder / "generator.data").unlink()
        (folder / "generator.data").symlink_to(secret)
    untouched(outside)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'leaky'", "generator.onnx", "external data")

    status, err, result = rank_json(capfd, zoo, "--skip-bad")
    assert status == 0
    assert "leaky" in result["skipped"]
    result.pop("skipped")
    same_ranking(result, reference)


@pytest.mark.parametrize("link", ["folder", "encoder"])
def test_symlinks_out_of_the_zoo(capfd, zoo, world, outside, reference, link):
    elsewhere = add_model(outside[0], world, "elsewhere")
    if link == "folder":
        (zoo / "linked").symlink_to(elsewhere)
    else:
        folder = add_model(zoo, world, "linked")
        (folder / "encoder.onnx").unlink()
        (folder / "encoder.onnx").symlink_to(elsewhere / "encoder.onnx")
    untouched(outside)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'linked'", "symlink", "--follow-symlinks")

    status, err, result = rank_json(capfd, zoo, "--skip-bad")
    assert status == 0, err
    assert list(result["skipped"]) == ["linked"]
    result.pop("skipped")
    same_ranking(result, reference)

    status, _, err = run(capfd, "half-weights", zoo)
    assert status == 1
    one_line(err, "'linked'", "symlink")


def test_follow_symlinks_reads_but_half_weights_never_writes_through(capfd, zoo, world, tmp_path):
    elsewhere = add_model(tmp_path / "elsewhere", world, "shared")
    folder = add_model(zoo, world, "linked")
    (folder / "encoder.onnx").unlink()
    (folder / "encoder.onnx").symlink_to(elsewhere / "encoder.onnx")
    status, err, result = rank_json(capfd, zoo, "--follow-symlinks")
    assert status == 0, err
    assert "linked" in result["names"]

    before = (elsewhere / "encoder.onnx").read_bytes()
    status, out, err = run(capfd, "half-weights", zoo, "--follow-symlinks")
    assert status == 0, err
    assert (elsewhere / "encoder.onnx").read_bytes() == before
    assert not (folder / "encoder.onnx").is_symlink()

    (zoo / "linked_folder").symlink_to(elsewhere)
    status, _, err = run(capfd, "half-weights", zoo, "--follow-symlinks")
    assert status == 1
    one_line(err, "linked_folder", "symlink")
    assert (elsewhere / "encoder.onnx").read_bytes() == before


# ------------------------------------------------------------ 5-6: models failing mid-run


@pytest.mark.parametrize("fault", ["nan_for_large_latents", "fails_on_foreign_images"])
def test_skip_bad_drops_a_model_that_fails_mid_run(capfd, zoo, world, reference, fault):
    folder = add_model(zoo, world, "m02_late")
    globals()[fault](folder)
    probe_model(load_model(folder))  # passes the pre-flight probe: it fails only later
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m02_late'", "NaN")

    status, err, result = rank_json(capfd, zoo, "--skip-bad")
    assert status == 0
    one_line(err, "skipped model 'm02_late'", "NaN")
    assert list(result["skipped"]) == ["m02_late"]
    result.pop("skipped")
    same_ranking(result, reference)


def test_skip_bad_with_process_backend(capfd, zoo, world, reference):
    fails_on_foreign_images(add_model(zoo, world, "m02_late"))
    status, err, result = rank_json(capfd, zoo, "--skip-bad", "--jobs", "2")
    assert status == 0, err
    assert list(result["skipped"]) == ["m02_late"]
    result.pop("skipped")
    same_ranking(result, reference)


def test_skip_bad_drops_a_model_that_fails_mid_adaptive_search(capfd, zoo, world):
    """Any search strategy gets the evaluator's skip-bad: here the adaptive search."""
    fails_on_foreign_images(add_model(zoo, world, "m02_late"))
    adaptive = ["--search", "adaptive", "--target", "0.9"]
    status, err, result = rank_json(capfd, zoo, "--skip-bad", *adaptive)
    assert status == 0, err
    assert list(result["skipped"]) == ["m02_late"]
    assert "m02_late" not in result["names"]
    good = zoo.parent / "good"
    shutil.copytree(zoo, good)
    shutil.rmtree(good / "m02_late")
    _, _, alone = rank_json(capfd, good, *adaptive)
    assert result["ranking"][0] == alone["ranking"][0]
    assert result["scores"] == alone["scores"]


def test_too_few_models_left_prints_the_reasons_first(capfd, zoo, world):
    for name in ("m01_e0.10", "m02_e1.00", "m03_e1.00"):
        shutil.rmtree(zoo / name)
    fails_on_foreign_images(add_model(zoo, world, "late"))
    (zoo / "broken").mkdir()
    status, _, err = run(capfd, "rank", zoo, *FAST, "--skip-bad")
    assert status == 1
    lines = err.splitlines()
    assert "Traceback" not in err
    assert all(line.startswith("skipped model ") for line in lines[:-1])
    assert {line.split("'")[1] for line in lines[:-1]} == {"late", "broken"}
    assert "needs at least 2 valid models, got 1" in lines[-1]


# ---------------------------------------------------------- 7: workers and the parent's end


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _start_long_run(zoo: Path) -> tuple[subprocess.Popen, list[int]]:
    args = ["rank", str(zoo), "--jobs", "2", "--votes", "100", "--group-size", "10"]
    args += ["--scale-samples", "3000000", "--n-boot", "0", "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-m", "modelcentrality.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # A suite started in the background of a script inherits an ignored SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    workers: list[int] = []

    def started() -> bool:
        workers[:] = [
            pid for pid in _children(process.pid) if _loaded_cmdline(pid, b"spawn_main")
        ]
        return len(workers) == 2 or process.poll() is not None

    _wait_until(started)
    assert len(workers) == 2, process.communicate()[1].decode()
    # Until both workers have loaded ONNX Runtime (they are about to open the models);
    # the watchdog must also work earlier, this only makes the case the usual one.
    _wait_until(lambda: all(_loaded(pid, b"onnxruntime") for pid in workers))
    return process, _children(process.pid)


def _loaded_cmdline(pid: int, text: bytes) -> bool:
    try:
        return text in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _loaded(pid: int, library: bytes) -> bool:
    try:
        return library in Path(f"/proc/{pid}/maps").read_bytes()
    except OSError:
        return True  # gone: nothing left to wait for


def _wait_until(condition, seconds: float = 300) -> bool:
    # A bound, not a delay: the condition is met in well under a second on an idle
    # machine, and may take much longer on a loaded one.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


def _wait_gone(pids: list[int], seconds: float = 300) -> list[int]:
    _wait_until(lambda: not any(process_alive(pid) for pid in pids), seconds)
    return [pid for pid in pids if process_alive(pid)]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_exit_when_the_parent_dies(zoo, sig):
    process, children = _start_long_run(zoo)
    try:
        os.kill(process.pid, sig)
        process.wait(timeout=300)
        assert _wait_gone(children) == []
    finally:
        for pid in children:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_with_jobs_is_one_line_and_status_130(zoo):
    process, children = _start_long_run(zoo)
    try:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal sends the whole group
        _, err = process.communicate(timeout=300)
        assert process.returncode == 130
        one_line(err.decode(), "interrupted")
        assert _wait_gone(children) == []
    finally:
        for pid in [process.pid, *children]:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


# -------------------------------------------------------- 8: one line instead of tracebacks


def test_deeply_nested_model_json(capfd, zoo):
    (zoo / "m01_e0.10" / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "nested too deeply")


def test_infinite_prior(capfd, zoo):
    path = zoo / "m01_e0.10" / "model.json"
    path.write_text(path.read_text().replace('"high": 1.0', '"high": Infinity'))
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "prior.high must be a finite number, got Infinity")


def test_encoder_with_no_outputs(capfd, zoo):
    path = zoo / "m01_e0.10" / "encoder.onnx"
    model = onnx.load(str(path))
    del model.graph.output[:]
    save(model, path, check=False)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'")


def test_huge_latent_dim_with_a_symbolic_input(capfd, zoo):
    folder = zoo / "m01_e0.10"
    model = onnx.load(str(folder / "generator.onnx"))
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "latents"
    save(model, folder / "generator.onnx")
    edit_json(folder / "model.json", latent_dim=10**9)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "latent_dim")


@pytest.mark.parametrize(
    "args",
    [
        ["rank", "ZOO", "--precision", "nan"],
        ["rank", "ZOO", "--precision", "inf"],
        ["rank", "ZOO", "--seed", "-1"],
        ["rank", "ZOO", "--group-size", str(10**12)],
        ["rank", "ZOO", "--scale-samples", str(10**12)],
        ["inspect", "ZOO/m00_e0.10", "--samples", str(10**12)],
        ["udr", "ZOO", "--samples", str(10**12)],
        ["evaluate", "ZOO", "--sample-multiplier", "1e300"],
        ["synthetic-zoo", "NEW", "--factors", str(10**9)],
        ["rank", "ZOO", "-o", "ZOO"],
        ["rank", "ZOO", "-o", "ZOO/m00_e0.10/model.json/out.json"],
    ],
)
def test_option_values_out_of_bounds(capfd, zoo, tmp_path, args):
    args = [a.replace("ZOO", str(zoo)).replace("NEW", str(tmp_path / "new")) for a in args]
    before = {p: p.stat().st_mtime_ns for p in zoo.rglob("*")}
    status, _, err = run(capfd, *args)
    assert status == 2
    one_line(err, "error", "(see --help)")
    assert {p: p.stat().st_mtime_ns for p in zoo.rglob("*")} == before
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output(capfd, zoo, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    status, _, err = run(capfd, "rank", zoo, *FAST, "-o", locked / "out.json")
    assert status == 2
    one_line(err, "not writable")


# A warning would be a second line on stderr. Not ResourceWarnings: Python never shows
# them by default, and the collector may finalise another test's leaked file here.
@pytest.mark.filterwarnings(
    "error", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize("payload", ["garbage", "list", "pickle"])
def test_train_resume_with_a_hostile_checkpoint(capfd, tmp_path, payload):
    pytest.importorskip("torch")
    import torch

    checkpoint = tmp_path / "checkpoint.pt"
    marker = tmp_path / "executed"
    if payload == "garbage":
        checkpoint.write_bytes(os.urandom(512))
    elif payload == "list":
        torch.save([1, 2, 3], checkpoint)
    else:
        checkpoint.write_bytes(pickle.dumps(_Payload(str(marker))))
    status, _, err = run(
        capfd,
        "train", "beta-vae", "--preset", "cpu", "-o", tmp_path / "zoo" / "m",
        "--checkpoint", checkpoint, "--resume", "--quiet",
    )
    assert status == 1
    line = one_line(err, "checkpoint.pt")
    assert "weights_only" not in line
    assert not marker.exists()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# --------------------------------------------------------------------- 9: thread bounds


def test_threads_are_bounded_by_the_cpus(capfd, zoo, reference):
    status, err, result = rank_json(capfd, zoo, "--threads", "100000")
    assert status == 0, err
    one_line(err, "--threads 100000", "CPUs")
    same_ranking(result, reference)


# ------------------------------------------------- 10: runtime logs and hostile model names


def test_runtime_failure_prints_no_runtime_log(capfd, zoo):
    # Gathers latent 10 of 6: loads fine, fails on every call.
    path = zoo / "m01_e0.10" / "generator.onnx"
    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    next(n for n in nodes if n.op_type == "Sigmoid").output[0] = "flat_ok"
    reshape = nodes.index(next(n for n in nodes if n.op_type == "Reshape"))
    extra = [
        helper.make_node("Gather", ["latents", "bad_index"], ["picked"], axis=1),
        helper.make_node("Mul", ["picked", "zero_c"], ["nothing"]),
        helper.make_node("Add", ["flat_ok", "nothing"], ["flat"]),
    ]
    del model.graph.node[:]
    model.graph.node.extend(nodes[:reshape] + extra + nodes[reshape:])
    model.graph.initializer.extend(
        [numpy_helper.from_array(np.array([10], dtype=np.int64), "bad_index"), const("zero_c", 0)]
    )
    save(model, path)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "generator failed")


def test_names_with_newlines_and_escapes_are_printed_escaped(capfd, zoo, world, reference):
    hostile = "evil\nname\x1b[31m"
    folder = add_model(zoo, world, "weird", name=hostile)
    nan_for_large_latents(folder, threshold=-2.0)  # fails the probe at once
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "evil\\nname\\x1b[31m")

    status, err, result = rank_json(capfd, zoo, "--skip-bad")
    assert status == 0
    one_line(err, "skipped model 'evil\\nname\\x1b[31m'")
    assert list(result["skipped"]) == [hostile]

    shutil.rmtree(folder)
    add_model(zoo, world, "weird", name=hostile)
    status, out, err = run(capfd, "rank", zoo, *FAST)
    assert status == 0, err
    assert "\x1b" not in out and "evil\\nname\\x1b[31m" in out
    assert len(out.splitlines()) == 2 + 5


# ------------------------------------------------------------------------------ 11: minor


def test_model_files_that_are_not_regular_files(capfd, zoo, outside):
    (zoo / "m01_e0.10" / "encoder.onnx").unlink()
    (zoo / "m01_e0.10" / "encoder.onnx").mkdir()
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "encoder.onnx is not a regular file")

    (zoo / "m01_e0.10" / "encoder.onnx").rmdir()
    (zoo / "m01_e0.10" / "encoder.onnx").symlink_to("/dev/zero")
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "symlink")
    status, _, err = run(capfd, "rank", zoo, *FAST, "--follow-symlinks")
    assert status == 1
    one_line(err, "'m01_e0.10'", "/dev/zero", "not a regular file")


def test_zoo_path_that_is_a_file(capfd, tmp_path):
    path = tmp_path / "zoo.txt"
    path.write_text("x")
    status, _, err = run(capfd, "rank", path, *FAST)
    assert status == 1
    one_line(err, "zoo.txt is a file, not a zoo folder")


def test_format_true_is_not_format_1(capfd, zoo):
    edit_json(zoo / "m01_e0.10" / "model.json", format=True)
    status, _, err = run(capfd, "rank", zoo, *FAST)
    assert status == 1
    one_line(err, "'m01_e0.10'", "format True")


def test_torch_route_reads_external_data_from_the_model_folder(zoo, world, monkeypatch, tmp_path):
    """Two models whose external data files share a name: each reads its own, from its
    own folder, whatever the current directory (the ONNX-through-PyTorch route)."""
    if importlib.util.find_spec("onnx2torch") is None:
        pytest.skip("onnx2torch is not installed")
    from modelcentrality.adapters.onnx_runtime import OnnxModel

    for folder in ("ext_a", "ext_b"):
        path = add_model(zoo, world, folder, entanglement=0.1 if folder == "ext_a" else 1.0)
        for name in ("generator.onnx", "encoder.onnx"):
            to_external_data(path / name, "weights.data")
    monkeypatch.chdir(tmp_path)
    for folder in ("ext_a", "ext_b"):
        plain = load_model(zoo / folder)
        latents = plain.sample_prior(4, 0)
        assert isinstance(plain, OnnxModel)
        routed = load_model(zoo / folder, dtype="bfloat16")
        np.testing.assert_allclose(
            routed.generate(latents), plain.generate(latents), atol=1e-5
        )


def test_torch_route_fingerprint_covers_the_graph(zoo):
    """An edited op (not a weight) changes the cache key on the PyTorch route too."""
    if importlib.util.find_spec("onnx2torch") is None:
        pytest.skip("onnx2torch is not installed")
    folder = zoo / "m00_e0.10"
    before = load_model(folder, dtype="bfloat16").fingerprint()
    generator = onnx.load(str(folder / "generator.onnx"))
    for node in generator.graph.node:
        if node.op_type == "Sigmoid":
            node.op_type = "Relu"
    save(generator, folder / "generator.onnx")
    assert load_model(folder, dtype="bfloat16").fingerprint() != before


@pytest.mark.parametrize("where", ["zoo", "model"])
def test_cache_in_the_zoo_folder_or_a_model_folder_is_refused(capfd, zoo, where):
    cache = zoo if where == "zoo" else zoo / "m00_e0.10"
    before = sorted(p.name for p in zoo.rglob("*"))
    status, _, err = run(capfd, "rank", zoo, *FAST, "--cache", cache)
    assert status == 1
    one_line(err, "cache folder", "zoo" if where == "zoo" else "inside the model folder")
    assert sorted(p.name for p in zoo.rglob("*")) == before
