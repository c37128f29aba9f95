"""Hostile variants of every file the tool reads, and the corpus cases of issue 21.

Each reader (rank JSON for ``report``, ground truth, manifests, ``train-zoo`` specs,
``model.json``, cache entries, checkpoints) gets files that are FIFOs, devices, folders,
huge, deeply nested, hold NaN / Infinity / 10**400, or are random mutations of a valid
file (property-based, with hypothesis). Each must give a correct result or one
ModelCentralityError line, never a traceback, never a hang, in bounded time and memory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcentrality.cli import main
from modelcentrality.engine import PROTOCOLS
from modelcentrality.errors import ModelCentralityError
from modelcentrality.execution._backends import watch_parent
from modelcentrality.execution._cache import PairCache
from modelcentrality.io import FileReadError, atomic_write, read_json, read_metadata, write_json
from modelcentrality.io._read import MAX_JSON_BYTES
from modelcentrality.report import GroundTruth, read_ground_truth
from modelcentrality.selection import RankResult
from modelcentrality.testing._synthetic import make_synthetic_zoo
from tests._helpers import one_line, process_alive
from tests._helpers import run_cli as run

ZOO_FAST = ["--votes", "60", "--group-size", "10", "--scale-samples", "200", "--n-boot"]
ZOO_FAST += ["20", "--quiet"]
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --------------------------------------------------------------------------- helpers


def last_line(text: str, *fragments: str) -> str:
    """The one-line outcome after the run's informational lines (budget, warnings), each
    itself one escaped line."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text and "\x1b" not in text, text
    assert all(line.startswith(("budget: ", "warning: ")) for line in lines[:-1]), text
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    return lines[-1]


@contextlib.contextmanager
def bounded(seconds: int = 120):
    """Fail instead of hanging: a FIFO read that blocks would never end the test."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def reads_cleanly(read, path):
    """``read(path)``: a result, or one ModelCentralityError line (returned as None)."""
    try:
        with bounded():
            return read(path)
    except ModelCentralityError as exc:
        assert "\n" not in str(exc) and str(exc).strip()
        return None


def rank_payload(n: int = 3) -> dict:
    names = [f"m{i}" for i in range(n)]
    rng = np.random.default_rng(0)
    cross = rng.uniform(0.3, 1.0, (n, n))
    result = RankResult(
        names=names,
        scores=cross.mean(axis=1),
        cross=cross,
        similarity=(cross + cross.T) / 2,
        revised_cross=cross,
        protocol=PROTOCOLS["paper"],
        seed=3,
        votes=np.full((n, n), 100),
    )
    return result.to_dict()


MANIFEST = {
    "spec": {"method": "factorvae", "preset": "cpu"},
    "models": [
        {
            "name": "m0",
            "status": "done",
            "scores": {"factorvae_paper": {"score": 0.7}, "mig": {"discrete_mig": 0.2}},
        },
        {
            "name": "m1",
            "status": "done",
            "scores": {"factorvae_paper": {"score": 0.9}, "mig": {"discrete_mig": 0.4}},
        },
        {"name": "m2", "status": "done", "scores": {"factorvae_paper": {"score": 0.5}}},
    ],
}
EVALUATE = {"results": {"m0": {"factorvae": {"score": 0.6}}, "m1": {"mig": {"discrete_mig": 1}}}}
MODEL_JSON = {
    "format": 1,
    "latent_dim": 4,
    "code_dims": [0, 1],
    "kind": "gan",
    "prior": {"type": "uniform", "low": -1.0, "high": 1.0},
    "name": "x",
}
SPEC = {"method": "factorvae", "preset": "cpu", "seeds": 2, "grid": {"tc_weight": [1, 10]}}


def load_spec(path):
    from modelcentrality.reference_models.zoo_job import load_spec

    return load_spec(str(path))


def metadata(path):
    return read_metadata(path.parent)


def checkpoint_step(path):
    pytest.importorskip("torch")
    from modelcentrality.reference_models.zoo_job import _checkpoint_step

    return _checkpoint_step(path)


#: Every JSON reader: (file name, valid content, read function, check of a result).
def _check_rank(result):
    payload = result.to_dict()
    assert len(payload["ranking"]) == len(result.names)
    assert np.all(np.isfinite(result.scores) | np.isnan(result.scores))


def _check_truth(truth):
    assert truth.scores
    for metrics in truth.scores.values():
        assert all(math.isfinite(v) for v in metrics.values())


JSON_READERS = {
    "ranking": ("result.json", rank_payload(), RankResult.from_json, _check_rank),
    "manifest": ("manifest.json", MANIFEST, read_ground_truth, _check_truth),
    "evaluate": ("evaluate.json", EVALUATE, read_ground_truth, _check_truth),
    "model.json": ("model.json", MODEL_JSON, metadata, lambda meta: meta["format"] == 1),
    "spec": ("spec.json", SPEC, load_spec, lambda spec: spec["method"] == "factorvae"),
}


# ------------------------------------------- files that are not regular, or too large


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def _huge(folder: Path, name: str) -> Path:
    path = folder / name
    with open(path, "wb") as handle:  # sparse: no disk space, no time
        handle.truncate(MAX_JSON_BYTES + 1)
    return path


def _dev_zero(folder: Path, name: str) -> Path:
    path = folder / name
    path.symlink_to("/dev/zero")
    return path


def _folder(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("reader", sorted(JSON_READERS) + ["checkpoint"])
@pytest.mark.parametrize("make", [_fifo, _huge, _dev_zero, _folder])
def test_readers_refuse_what_is_not_a_regular_file(tmp_path, reader, make):
    if reader == "checkpoint":
        name, read = "checkpoint.pt", checkpoint_step
    else:
        name, _, read, _ = JSON_READERS[reader]
    path = make(tmp_path, name)
    with bounded(), pytest.raises(ModelCentralityError) as caught:
        read(path)
    message = str(caught.value)
    assert "\n" not in message
    assert name in message or path.parent.name in message


@pytest.mark.parametrize("reader", sorted(JSON_READERS))
def test_readers_accept_their_valid_file(tmp_path, reader):
    name, payload, read, check = JSON_READERS[reader]
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    result = read(path)
    assert result is not None
    check(result)


# ------------------------------------------------- property-based: mutated JSON files


def _leaf():
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.just(10**400)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=12)
    )


JSON_VALUES = st.recursive(
    _leaf(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _mutate(document, data):
    """One random change to a copy of ``document``: a value replaced or a key dropped."""
    document = json.loads(json.dumps(document))
    paths = list(_paths(document))
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(JSON_VALUES)
    if not path:
        return replacement
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return document


def _to_text(document) -> str:
    # NaN and Infinity as the JSON extensions Python writes; 10**400 as its digits.
    return json.dumps(document, allow_nan=True)


@pytest.mark.parametrize("reader", sorted(JSON_READERS))
@PROPERTY
@given(data=st.data())
def test_mutated_json_files_give_a_result_or_one_line(tmp_path, reader, data):
    name, payload, read, check = JSON_READERS[reader]
    path = tmp_path / name
    path.write_text(_to_text(_mutate(payload, data)))
    result = reads_cleanly(read, path)
    if result is not None:
        check(result)


@pytest.mark.parametrize("reader", sorted(JSON_READERS))
@PROPERTY
@given(data=st.data())
def test_damaged_bytes_give_a_result_or_one_line(tmp_path, reader, data):
    name, payload, read, check = JSON_READERS[reader]
    text = _to_text(payload).encode()
    cut = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.binary(max_size=16))
    path = tmp_path / name
    path.write_bytes(text[:cut] + noise + text[cut + len(noise) :])
    result = reads_cleanly(read, path)
    if result is not None:
        check(result)


@pytest.mark.parametrize("reader", sorted(JSON_READERS))
@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_nesting_is_one_line(tmp_path, reader, depth):
    name, _, read, _ = JSON_READERS[reader]
    path = tmp_path / name
    path.write_text("[" * depth + "]" * depth)
    with pytest.raises(ModelCentralityError, match="nested too deeply"):
        read(path)


@PROPERTY
@given(damage=st.binary(max_size=200))
def test_damaged_cache_entries_are_recomputed(tmp_path, damage):
    cache = PairCache(tmp_path / "cache", PROTOCOLS["paper"], 0)

    class Model:
        def __init__(self, name):
            self.name = name

        def fingerprint(self):
            return self.name * 8

    source, encoder = Model("a"), Model("b")
    path, _ = cache._key(source, encoder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(damage)
    assert cache.load(source, encoder) is None
    assert not path.exists()


@PROPERTY
@given(damage=st.binary(max_size=300))
def test_damaged_checkpoints_are_one_line(tmp_path, damage):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(damage)
    reads_cleanly(checkpoint_step, path)


# ------------------------------------------------------------- numbers in JSON files


@pytest.mark.parametrize(
    "token, shown",
    [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e400", "inf"),
        (str(10**400), "..."),
        ("9" * 5000, "..."),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(tmp_path, token, shown):
    path = tmp_path / "doc.json"
    path.write_text('{"a": [1, {"b": ' + token + "}]}")
    with pytest.raises(FileReadError, match=r"a\[1\]\.b must be a finite number") as caught:
        read_json(path)
    assert shown in str(caught.value)
    assert read_json(path, non_finite="null") == {"a": [1, {"b": None}]}


# ------------------------------------------------- 3: hand-edited `rank -o` results


@pytest.fixture(scope="module")
def ranked_zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    make_synthetic_zoo(root / "zoo", (0.1, 0.1, 1.0), random_state=0)
    assert main(["rank", str(root / "zoo"), *ZOO_FAST, "-o", str(root / "rank.json")]) == 0
    return root / "zoo", json.loads((root / "rank.json").read_text())


CRAFTED = [
    ({"protocol": "paper"}, "protocol must be an object"),
    ({"search": "adaptive"}, "search must be an object"),
    ({"skipped": ["a"]}, "skipped must map"),
    ({"skipped": {"x": 5}}, "skipped must map"),
    ({"scores": ["a", "b", "c"]}, "scores item 0 must be a number"),
    ({"similarity": [["a"] * 3] * 3}, "similarity row 0 item 0 must be a number"),
    ({"p_top": ["x", 0, 0]}, "p_top item 0 must be a number"),
    ({"self_consistency": ["x", 0, 0]}, "self_consistency item 0"),
    ({"scores_ci": [1, 2, 3, 4]}, "scores_ci must be a 3 x 2 matrix"),
    ({"names": ["a", "a", "b"]}, "names must not repeat"),
    ({"seed": -1}, "seed must be an integer"),
    ({"votes": [[1.5] * 3] * 3}, "votes must hold non-negative whole"),
    ({"tied": ["not_ranked"]}, "tied must list names of ranked models"),
    ({"budget": {"group_size": -1}}, "group_size must be a count"),
    ({"pairs_cached": "many"}, "pairs_cached must be an integer"),
]


@pytest.mark.parametrize("change, problem", CRAFTED)
def test_report_of_a_crafted_ranking_is_one_line(capfd, tmp_path, ranked_zoo, change, problem):
    zoo, payload = ranked_zoo
    path = tmp_path / "rank.json"
    path.write_text(json.dumps({**payload, **change}))
    status, _, err = run(capfd, "report", path, zoo, "-o", tmp_path / "report")
    assert status == 1
    one_line(err, "is not a `rank -o` result", problem)
    assert not (tmp_path / "report").exists()


def test_ranking_round_trips_through_its_json_form(tmp_path, ranked_zoo):
    payload = ranked_zoo[1]
    result = RankResult.from_json(payload)
    again = result.to_dict()
    # Every field comes back, the budget, the tie and both intervals included.
    assert again == payload
    assert {"budget", "tied", "sampling_ci", "encoder_passes_cached"} <= set(again)
    path = tmp_path / "again.json"
    result.to_json(path)
    assert RankResult.from_json(path).to_dict() == again


def test_unknown_fields_are_ignored_and_optional_ones_may_be_absent(ranked_zoo):
    payload = ranked_zoo[1]
    minimal = {key: payload[key] for key in ("names", "scores", "similarity")}
    result = RankResult.from_json({**minimal, "tied": [], "from_the_future": {"x": 1}})
    assert result.ranking == payload["ranking"]
    assert result.protocol is None and result.uncertainty is None
    assert np.all(np.isnan(result.self_consistency))


# ------------------------------------------------- 1, 12: `$` and control characters


# A matplotlib warning would be a line on stderr (ResourceWarnings are never shown).
@pytest.mark.filterwarnings(
    "error", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_report_with_dollar_and_control_characters_in_names(capfd, tmp_path, ranked_zoo):
    zoo, payload = ranked_zoo
    names = ["cost $5 \\frac{a$", "evil\x1b[31m\nname " + "x" * 300, "$$\\$"]
    renamed = tmp_path / "zoo"
    for old, new in zip(payload["names"], names):
        folder = renamed / f"f{names.index(new)}"
        folder.mkdir(parents=True)
        for item in (zoo / old).iterdir():
            (folder / item.name).write_bytes(item.read_bytes())
        meta = json.loads((folder / "model.json").read_text())
        (folder / "model.json").write_text(json.dumps({**meta, "name": new}))
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps({**payload, "names": names, "ranking": names, "skipped": {}}))
    status, _, err = run(capfd, "report", ranking, renamed, "-o", tmp_path / "report")
    assert status == 0, err
    last_line(err, "wrote report")
    page = (tmp_path / "report" / "index.html").read_text()
    assert "cost $5 \\frac{a$" in page and "\x1b" not in page


# ------------------------------------------------------- 2, 7: outputs and full disks


def test_report_into_a_file_is_refused_before_the_run(capfd, tmp_path, ranked_zoo):
    zoo, payload = ranked_zoo
    taken = tmp_path / "taken"
    taken.write_text("mine")
    status, _, err = run(capfd, "rank", zoo, *ZOO_FAST, "--report", taken)
    assert status == 2
    one_line(err, "--report", "is a file, not a folder", "(see --help)")
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps(payload))
    status, _, err = run(capfd, "report", ranking, zoo, "-o", taken / "sub")
    assert status == 2
    one_line(err, "is a file, not a folder", "(see --help)")
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("call", ["fsync", "write"])
def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch, call):
    target = tmp_path / "out.json"
    write_json(target, {"old": True})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ModelCentralityError) as caught:
        if call == "fsync":
            monkeypatch.setattr(os, "fsync", full)
            write_json(target, {"new": True})
        else:  # the disk fills while the content is written
            atomic_write(target, lambda handle: (handle.write(b"{"), full()))
    message = str(caught.value)
    assert "\n" not in message and str(target) in message
    assert "No space left on device" in message
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_full_disk_during_rank_and_report_is_one_line(capfd, tmp_path, ranked_zoo, monkeypatch):
    zoo, payload = ranked_zoo

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    status, out, err = run(capfd, "rank", zoo, *ZOO_FAST, "-o", tmp_path / "r.json")
    assert status == 1
    one_line(err, "cannot write", "r.json", "No space left on device")
    status, out, err = run(capfd, "rank", zoo, *ZOO_FAST, "--cache", tmp_path / "cache")
    assert status == 1
    one_line(err, "cannot write", "cache", "No space left on device")
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps(payload))
    status, _, err = run(capfd, "report", ranking, zoo, "-o", tmp_path / "report")
    assert status == 1
    last_line(err, "cannot write", "index.html", "No space left on device")


# --------------------------------------------- 4, 5, 6: ground truth that lies or hangs


def test_non_finite_ground_truth_is_missing_never_best(tmp_path, capfd, ranked_zoo):
    zoo, payload = ranked_zoo
    names = payload["names"]
    truth = tmp_path / "truth.json"
    scores = ["NaN", "Infinity", "0.1", str(10**400)]
    entries = ",".join(
        f'"{name}": {{"factorvae": {{"score": {score}}}}}' for name, score in zip(names, scores)
    )
    truth.write_text('{"results": {' + entries + "}}")
    read = read_ground_truth(truth)
    assert read.scores == {names[2]: {"factorvae": 0.1}}
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps(payload))
    status, out, err = run(
        capfd, "report", ranking, zoo, "-o", tmp_path / "r", "--ground-truth", truth
    )
    assert status == 0, err
    line = one_line(out, "ground truth (1 models")
    assert "nan" not in line and "inf" not in line


def test_compare_ignores_non_finite_scores_given_in_code():
    truth = GroundTruth(
        {
            "a": {"factorvae": float("nan")},
            "b": {"factorvae": 0.1},
            "c": {"factorvae": float("inf")},
        }
    )
    summary = truth.compare(["a", "b", "c"], [0.9, 0.5, 0.1])
    assert summary["models"] == 1 and summary["best"] == "b" and summary["pick"] == "b"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_ground_truth_from_devices_and_fifos_is_one_line(capfd, tmp_path, ranked_zoo):
    zoo, payload = ranked_zoo
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps(payload))
    fifo = _fifo(tmp_path, "truth.fifo")
    for source in ("/dev/zero", fifo):
        with bounded():
            status, _, err = run(
                capfd, "report", ranking, zoo, "-o", tmp_path / "r", "--ground-truth", source
            )
        assert status == 2
        one_line(err, str(source), "not a regular file")


# ------------------------------------------------------------ 8: adaptive option values


@pytest.mark.parametrize(
    "option", [["--top-k", "0"], ["--max-pairs", "-5"], ["--target", "1.5"], ["--target", "nan"]]
)
def test_bad_adaptive_options_exit_2(capfd, ranked_zoo, option):
    status, _, err = run(capfd, "rank", ranked_zoo[0], "--search", "adaptive", *option)
    assert status == 2
    one_line(err, option[0], "(see --help)")


# ------------------------------------------------------- 9: names escaped in messages


def test_missing_names_are_escaped(capfd, tmp_path, ranked_zoo):
    zoo, payload = ranked_zoo
    names = ["evil\nname", *payload["names"][1:]]
    ranking = tmp_path / "rank.json"
    ranking.write_text(json.dumps({**payload, "names": names, "ranking": names}))
    status, _, err = run(capfd, "report", ranking, zoo, "-o", tmp_path / "r")
    assert status == 0, err
    lines = err.splitlines()
    assert lines[0] == f"no usable model in {zoo} for: evil\\nname"
    last_line("\n".join(lines[1:]), "wrote report")


# ------------------------------------------------------- 10, 11: torch and dSprites


def test_bfloat16_without_torch_is_one_line(capfd, ranked_zoo, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    status, _, err = run(capfd, "rank", ranked_zoo[0], *ZOO_FAST, "--dtype", "bfloat16")
    assert status == 1
    one_line(err, "bfloat16", "PyTorch", "pip install")


@pytest.mark.parametrize(
    "content", [b"root:x:0:0:root:/root:/bin/bash\n", b"\x93NUMPY", b"", "objects", "pickle"]
)
def test_a_dsprites_file_that_is_not_an_archive_never_suggests_pickle(tmp_path, content):
    from modelcentrality.datasets.base import DatasetError
    from modelcentrality.datasets.dsprites import load_official_npz

    path = tmp_path / "passwd"
    if content == "objects":  # an .npz whose arrays need unpickling
        with open(path, "wb") as handle:
            np.savez(
                handle,
                imgs=np.array([{"a": 1}]),
                latents_classes=np.zeros(1),
                latents_values=np.zeros(1),
            )
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"imgs": 1}))
    else:
        path.write_bytes(content)
    with pytest.raises(DatasetError) as caught:
        load_official_npz(path)
    message = str(caught.value)
    assert "\n" not in message and "passwd" in message
    assert "allow_pickle" not in message and "unsafe" not in message


@pytest.mark.slow
def test_train_on_etc_passwd_never_suggests_pickle(capfd, tmp_path):
    pytest.importorskip("torch")
    status, _, err = run(
        capfd,
        "train",
        "beta-vae",
        "--preset",
        "cpu",
        "--data",
        "dsprites:/etc/passwd",
        "-o",
        tmp_path / "m",
        "--quiet",
    )
    assert status == 1
    line = one_line(err, "/etc/passwd")
    assert "allow_pickle" not in line and "unsafe" not in line


def test_train_threads_are_bounded_by_the_cpus(capfd):
    from modelcentrality.cli.common import bound_threads
    from modelcentrality.execution import default_n_jobs

    assert bound_threads(None, None, 10**6) == default_n_jobs()
    assert "CPUs" in capfd.readouterr().err
    assert bound_threads(None, None, 1) == 1


# ---------------------------------------------------- 13: workers follow their parent

_ORPHAN_PARENT = r"""
import multiprocessing, os, sys, time
from modelcentrality.execution._backends import watch_parent

def child(parent, death_signal, ready):
    watch_parent(parent, death_signal=death_signal)
    ready.set()
    while True:  # busy, as a worker computing votes
        sum(range(1000))

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    kids = []
    # One child with the kernel's signal and the thread, one with the thread alone.
    for flag in (True, False):
        ready = context.Event()
        kids.append(context.Process(target=child, args=(os.getpid(), flag, ready)))
        kids[-1].start()
        ready.wait()  # its guards are armed
    print(" ".join(str(kid.pid) for kid in kids), flush=True)
    sys.stdin.read()  # until the test kills this process
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_watch_parent_ends_workers_whatever_the_load(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_ORPHAN_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        parent.kill()
        parent.wait()
        for pid in pids:
            # Not a timing margin: each child is gone when its parent is (the kernel's
            # signal, or a thread woken by the parent's exit); the bound only stops a
            # broken watchdog from hanging the suite.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and process_alive(pid):
                time.sleep(0.05)
            assert not process_alive(pid), f"worker {pid} outlived its parent"
    finally:
        parent.kill()


def test_watch_parent_exits_at_once_when_the_parent_is_already_gone(monkeypatch):
    def fake_exit(code):
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    with pytest.raises(SystemExit) as caught:
        watch_parent(os.getppid() + 10**6, death_signal=False)
    assert caught.value.code == 1


# ------------------------------------- valid but odd rankings: the report still renders


def _odd_numbers():
    return st.none() | st.floats(-1e6, 1e6) | st.just(0.0)


@st.composite
def odd_rankings(draw):
    n = draw(st.integers(1, 4))
    names = draw(st.lists(st.text(min_size=1, max_size=20), min_size=n, max_size=n, unique=True))
    vector = st.lists(_odd_numbers(), min_size=n, max_size=n)
    matrix = st.lists(vector, min_size=n, max_size=n)
    payload = {"names": names, "scores": draw(vector), "similarity": draw(matrix)}
    if draw(st.booleans()):
        payload["scores_ci"] = draw(
            st.lists(st.lists(_odd_numbers(), min_size=2, max_size=2), min_size=n, max_size=n)
        )
        payload["p_top"] = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    return payload


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "error", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=odd_rankings())
def test_odd_but_valid_rankings_render_without_warnings(tmp_path, payload):
    from modelcentrality.report import write_report

    result = RankResult.from_json(payload)
    page = write_report(result, None, tmp_path / "report").read_text()
    assert page.count("<tr") == len(payload["names"]) + 1
