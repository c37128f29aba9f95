"""The zoo folder format (version 1) and loading it.

::

    ZOO/
      <name>/
        model.json       metadata, see below
        encoder.onnx     observations (B, *obs) -> codes (B, E) [, log-variance (B, E)]
        generator.onnx   latents (B, D) -> observations (B, *obs)

``model.json``::

    {
      "format": 1,
      "latent_dim": 10,
      "code_dims": [0, 1, 2, 3, 4],
      "prior": {"type": "uniform", "low": -1, "high": 1},
      "kind": "gan",
      "logvar_output": "logvar",          # optional: name of the encoder's log-variance output
      "observation_shape": [1, 64, 64],   # optional: only if the ONNX shapes are symbolic
      "name": "infogan_cr_s0"             # optional: defaults to the folder name
    }

``prior`` is ``{"type": "uniform", "low", "high"}``, ``{"type": "normal", "mean", "std"}``
or, for models with categorical latents, a mixed prior whose parts follow each other
along the latent vector::

      "prior": {"type": "mixed", "parts": [
        {"type": "normal", "mean": 0, "std": 1, "count": 10},
        {"type": "categorical", "n_classes": 3, "encoding": "one_hot"}]}

(see :class:`~modelcentrality.contract.MixedPrior`). Other keys (training settings,
scores...) are kept by writers and ignored here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime as ort

from .._zoo_format import CACHE_MARKER, ENCODER_FILE, FORMAT_VERSION, GENERATOR_FILE, METADATA_FILE
from ..adapters.onnx_runtime import OnnxModel, inside
from ..contract import KINDS, MAX_LATENT_DIM, Model, Prior, checked_prior, skip_reason
from ..errors import ModelCentralityError, ModelError, ParameterError, ZooError
from ._read import MAX_SMALL_JSON_BYTES, FileReadError, read_json

_REQUIRED = ("format", "latent_dim", "code_dims", "prior", "kind")
#: model.json holds a few keys; anything bigger is not one.
MAX_METADATA_BYTES = MAX_SMALL_JSON_BYTES


class Zoo(list):
    """A list of models that also records which folders were skipped and why.

    Attributes
    ----------
    skipped : dict of str to str
        Model name -> one-line reason, for models left out by ``skip_bad=True``.
    """

    def __init__(self, models: Sequence[Model] = (), skipped: dict[str, str] | None = None):
        super().__init__(models)
        self.skipped: dict[str, str] = dict(skipped or {})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_metadata(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and validate ``model.json``; raise ModelError naming the problem."""
    model_dir = Path(model_dir)
    name = model_dir.name
    path = model_dir / METADATA_FILE
    if not path.exists() and not path.is_symlink():
        raise ModelError(name, f"missing {METADATA_FILE} in {model_dir}")
    try:
        meta = read_json(path, max_bytes=MAX_METADATA_BYTES)
    except FileReadError as exc:
        raise ModelError(name, f"{METADATA_FILE} {exc.problem}") from None
    if not isinstance(meta, dict):
        raise ModelError(name, f"{METADATA_FILE} must hold a JSON object")
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise ModelError(name, f"{METADATA_FILE} lacks required keys {missing}")
    if not _is_int(meta["format"]) or meta["format"] != FORMAT_VERSION:
        raise ModelError(
            name, f"{METADATA_FILE} has format {meta['format']!r}; this version reads format 1"
        )
    if not _is_int(meta["latent_dim"]) or not 1 <= meta["latent_dim"] <= MAX_LATENT_DIM:
        raise ModelError(
            name,
            f"latent_dim must be an integer in [1, {MAX_LATENT_DIM}], got {meta['latent_dim']!r}",
        )
    codes = meta["code_dims"]
    if not isinstance(codes, list) or not codes or not all(_is_int(c) for c in codes):
        raise ModelError(name, f"code_dims must be a non-empty list of integers, got {codes!r}")
    if meta["kind"] not in KINDS:
        raise ModelError(name, f"kind must be 'gan' or 'vae', got {meta['kind']!r}")
    try:
        prior = Prior.from_dict(meta["prior"])
    except ValueError as exc:
        raise ModelError(name, f"bad prior in {METADATA_FILE}: {exc}") from None
    checked_prior(name, prior, meta["latent_dim"], tuple(codes))
    shape = meta.get("observation_shape")
    if shape is not None and (
        not isinstance(shape, list) or not shape or not all(_is_int(s) and s > 0 for s in shape)
    ):
        raise ModelError(
            name, f"observation_shape must be a list of positive integers, got {shape!r}"
        )
    logvar = meta.get("logvar_output")
    if logvar is not None and not isinstance(logvar, str):
        raise ModelError(name, f"logvar_output must be a string, got {logvar!r}")
    return meta


def check_links(model_dir: Path, root: Path, *, follow_symlinks: bool = False) -> None:
    """Refuse a model folder, or one of its files, that is a symlink out of ``root``.

    ``root`` is the zoo (or the model folder itself when it is loaded alone). A link
    that stays inside is fine; one that leads out is followed only with
    ``follow_symlinks``, so a zoo never makes the tool read elsewhere by surprise.

    Raises
    ------
    ModelError
        Naming the link and where it leads.
    """
    if follow_symlinks:
        return
    files = (METADATA_FILE, ENCODER_FILE, GENERATOR_FILE)
    for path in (model_dir, *(model_dir / name for name in files)):
        if path.exists() and not inside(path, root):
            raise ModelError(
                model_dir.name,
                f"{path} leads out of {root} through a symlink (to {os.path.realpath(path)}); "
                "pass --follow-symlinks to allow it",
            )
def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _runs_on_torch(device: str | None, dtype: str | None) -> bool:
    """Whether a zoo model for ``device`` and ``dtype`` runs through PyTorch.

    The host in float32 is ONNX Runtime's (today's path). A CUDA device goes through
    PyTorch when PyTorch sees CUDA, since there rendered chunks stay on the device for
    every encoder; otherwise through ONNX Runtime's CUDA provider when onnxruntime-gpu
    is installed (each call copies its batch between host and device). bfloat16 needs
    PyTorch anywhere.
    """
    device = "cpu" if device is None else str(device)
    if dtype not in (None, "float32"):
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ParameterError(
                f"dtype {dtype!r} runs the models through PyTorch, which is not installed: "
                "pip install 'modelcentrality[gpu]'"
            ) from None
        return True
    if device == "cpu":
        return False
    if not device.startswith("cuda"):
        raise ParameterError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if _torch_cuda():
        return True
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return False
    raise ParameterError(
        f"CUDA is not available: neither PyTorch nor onnxruntime-gpu finds a CUDA device "
        f"(device={device!r}); use device='cpu'"
    )


def load_model(
    model_dir: str | os.PathLike,
    *,
    batch_size: int = 1024,
    threads: int | None = None,
    follow_symlinks: bool = False,
    root: str | os.PathLike | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> Model:
    """Load one model folder through the ONNX Runtime adapter, or PyTorch on a device.

    Parameters
    ----------
    model_dir : path-like
        Folder holding model.json, encoder.onnx and generator.onnx.
    batch_size : int
        Rows per ONNX Runtime call.
    threads : int, optional
        ONNX Runtime intra-op threads per session.
    follow_symlinks : bool
        Read files (and ONNX external data) that are symlinks out of ``root``; by
        default they are refused with a ModelError.
    root : path-like, optional
        The folder no file may leave through a symlink (default: ``model_dir``).
    device : {"cpu", "cuda", "cuda:N"}, optional
        Where the networks run (default: the host, through ONNX Runtime). On CUDA the
        graphs are converted to PyTorch (:class:`~modelcentrality.adapters.onnx_torch.
        OnnxTorchModel`, needs ``modelcentrality[gpu]``) when PyTorch sees the device,
        else run by onnxruntime-gpu's CUDA provider. One-line error when the device is
        not available.
    dtype : {"float32", "bfloat16"}, optional
        The encoders' compute precision; bfloat16 runs the graphs through PyTorch.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(model_dir.name, f"no such model folder: {model_dir}")
    check_links(model_dir, Path(root or model_dir), follow_symlinks=follow_symlinks)
    torch_route = _runs_on_torch(device, dtype)
    meta = read_metadata(model_dir)
    name = str(meta.get("name") or model_dir.name)
    model = OnnxModel(
        model_dir / ENCODER_FILE,
        model_dir / GENERATOR_FILE,
        name=name,
        latent_dim=meta["latent_dim"],
        code_dims=meta["code_dims"],
        prior=Prior.from_dict(meta["prior"]),
        kind=meta["kind"],
        logvar_output=meta.get("logvar_output"),
        observation_shape=meta.get("observation_shape"),
        batch_size=batch_size,
        threads=threads,
        follow_symlinks=follow_symlinks,
        device=None if torch_route else device,
    )
    if not torch_route:
        return model
    from ..adapters.onnx_torch import OnnxTorchModel

    return OnnxTorchModel(model, device=device or "cpu", batch_size=batch_size, dtype=dtype)


def model_folders(zoo_dir: str | os.PathLike) -> list[Path]:
    """Sub-folders of a zoo that look like models, sorted.

    Hidden folders (``.`` or ``_`` first) and pair caches (``rank --cache`` inside the
    zoo) are not models.
    """
    zoo_dir = Path(zoo_dir)
    if not zoo_dir.is_dir():
        if zoo_dir.exists():
            raise ZooError(f"{zoo_dir} is a file, not a zoo folder")
        raise ZooError(f"zoo folder not found: {zoo_dir}")
    if (zoo_dir / METADATA_FILE).is_file():
        raise ZooError(f"{zoo_dir} is a single model folder; pass the folder that contains it")
    return sorted(
        p
        for p in zoo_dir.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and not (p / CACHE_MARKER).exists()
    )


def load_zoo(
    zoo_dir: str | os.PathLike,
    *,
    skip_bad: bool = False,
    batch_size: int = 1024,
    threads: int | None = None,
    follow_symlinks: bool = False,
    device: str | None = None,
    dtype: str | None = None,
) -> Zoo:
    """Load every model folder of a zoo, in name order.

    Parameters
    ----------
    zoo_dir : path-like
    skip_bad : bool
        Leave unusable models out (recorded in ``Zoo.skipped``) instead of raising.
    batch_size, threads, device, dtype :
        Passed to :func:`load_model`.
    follow_symlinks : bool
        Follow symlinks (model folders, files, ONNX external data) that lead out of
        the zoo; by default such a model is refused (skipped with ``skip_bad``).

    Returns
    -------
    Zoo
        A list of models with a ``skipped`` dict.
    """
    # A bad device is the caller's mistake, not every model's: say so once.
    _runs_on_torch(device, dtype)
    zoo = Zoo()
    for folder in model_folders(zoo_dir):
        try:
            zoo.append(
                load_model(
                    folder,
                    batch_size=batch_size,
                    threads=threads,
                    follow_symlinks=follow_symlinks,
                    root=zoo_dir,
                    device=device,
                    dtype=dtype,
                )
            )
        except ModelCentralityError as exc:
            if not skip_bad:
                raise
            zoo.skipped.update([skip_reason(exc, folder.name)])
    names = Counter(m.name for m in zoo)
    duplicated = sorted(n for n, c in names.items() if c > 1)
    if duplicated:
        raise ZooError(f"{zoo_dir}: several folders declare the model name(s) {duplicated}")
    return zoo
