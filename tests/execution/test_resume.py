"""A ranking killed with SIGKILL resumes from its cache and gives the uninterrupted result."""

import json
import subprocess
import sys
import time

import pytest

from modelcentrality.testing._synthetic import make_synthetic_zoo

#: Paper protocol defaults, one ONNX thread: a source task encodes ~124k observations per
#: encoder (~0.5 s or more), so the run is still going when its first pairs land.
N_MODELS = 6
#: Result fields that must not depend on the interruption (intervals: when present).
COMPARED = (
    "names",
    "cross",
    "revised_cross",
    "similarity",
    "scores",
    "ranking",
    "scores_ci",
    "p_top",
)


def _command(zoo, out, *extra):
    cli = [sys.executable, "-m", "modelcentrality.cli"]
    # One ONNX thread: spinning thread pools slow down several-fold on a busy machine.
    options = ["--quiet", "--seed", "3", "--threads", "1"]
    return [*cli, "rank", str(zoo), "-o", str(out), *options, *extra]


def _entries(cache):
    return {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in cache.glob("*/*.npz")}


@pytest.fixture
def zoo(tmp_path):
    path = tmp_path / "zoo"
    make_synthetic_zoo(path, entanglements=(0.1, 0.1, 0.1, 1.0, 1.0, 1.0), random_state=1)
    return path


def test_killed_run_resumes_from_cache(zoo, tmp_path):
    cache = tmp_path / "cache"
    killed_out = tmp_path / "killed.json"
    process = subprocess.Popen(
        _command(zoo, killed_out, "--cache", str(cache)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not _entries(cache):
        if process.poll() is not None:
            pytest.fail(f"run ended before writing a pair: {process.stderr.read().decode()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("no cache entry after 120 s")
        time.sleep(0.005)
    process.kill()  # SIGKILL: no cleanup handler runs
    process.wait()
    process.stderr.close()
    before = _entries(cache)
    assert 0 < len(before) < N_MODELS**2, "the run must be killed part-way"
    assert not killed_out.exists()

    resumed_out = tmp_path / "resumed.json"
    resumed = subprocess.run(
        _command(zoo, resumed_out, "--cache", str(cache)), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    after = _entries(cache)
    assert len(after) == N_MODELS**2
    # Entries of the killed run were reused as they were, not computed and written again.
    assert {path: after[path] for path in before} == before

    baseline_out = tmp_path / "baseline.json"
    baseline = subprocess.run(_command(zoo, baseline_out), capture_output=True, text=True)
    assert baseline.returncode == 0, baseline.stderr
    resumed_result = json.loads(resumed_out.read_text())
    baseline_result = json.loads(baseline_out.read_text())
    for key in COMPARED:
        assert resumed_result.get(key) == baseline_result.get(key), key
    assert all(name.endswith("_e0.10") for name in resumed_result["ranking"][:3])
