"""Helpers shared by test modules in several folders (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelcentrality.adapters.onnx_runtime import OnnxModel
from modelcentrality.cli import main
from modelcentrality.contract import Model, Prior

#: A fast protocol for tests: fewer votes and a smaller scale set than the paper's.
FAST = {"votes": 120, "scale_samples": 3000}


def run_cli(capture: pytest.CaptureFixture[str], *args) -> tuple[int, str, str]:
    """Run ``modelcentrality ARGS`` in this process: exit status, stdout and stderr.

    ``capture`` is ``capsys`` or ``capfd`` (the latter also sees worker processes).
    """
    status = main([str(a) for a in args])
    out, err = capture.readouterr()
    return status, out, err


def one_line(text: str, *fragments: str) -> str:
    """The only non-blank line of ``text``: no traceback, no escape codes, each fragment."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text and "\x1b" not in text, text
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_tasks(backend, models, tasks, protocol, seed: int) -> tuple[dict, list]:
    """Run ``tasks`` on ``backend``: the pair results by (source, encoder) index and the
    progress reports in the order they came."""
    pairs, progress = {}, []
    backend.run(
        models, tasks, protocol, seed, lambda i, j, r: pairs.update({(i, j): r}), progress.append
    )
    return pairs, progress


def from_bytes(model: OnnxModel) -> OnnxModel:
    """``model`` rebuilt from its ONNX bytes (a model that travels as bytes, not paths)."""
    return OnnxModel(
        *model.onnx_bytes(),
        name=model.name,
        latent_dim=model.latent_dim,
        code_dims=model.code_dims,
        prior=model.prior,
        kind=model.kind,
    )


class InMemoryModel(Model):
    """A model that lives in this process only (no files, no module path): the identity
    map on 2 uniform codes, which no worker process can be sent."""

    def __init__(self):
        super().__init__("in_memory", 2, [0, 1], Prior("uniform"), "gan", (2,))

    def _generate_batch(self, latents):
        return latents

    def _encode_batch(self, observations, want_logvar):
        return observations, None


def slow_fixture(function):
    """Declare a fixture expensive: every test that uses it is marked slow (a mark on a
    fixture has no effect). Put it below ``@pytest.fixture``."""
    function.slow = True
    return function


def binary_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random binary 64x64 images: a stand-in data set that costs nothing to draw."""
    return (rng.random((n, 1, 64, 64)) < 0.1).astype(np.float32)
