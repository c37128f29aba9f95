"""Train reference models into zoo model folders (``modelcentrality train``, ``train-zoo``).

:func:`train_models` trains K models of one method as one group
(:class:`~.grouped.GroupedTrainer`); :func:`train_model` is that group with one model.

Where things go, for an output folder ``ZOO/NAME``:

- ``ZOO/NAME/``: the exported model (model.json + encoder.onnx + generator.onnx), written
  only when training has finished;
- ``ZOO/NAME_modified/``: for InfoGAN-CR, the "InfoGAN (modified)" model, exported when
  the contrastive regulariser starts;
- ``ZOO/.checkpoints/NAME.pt``: the training checkpoint (a hidden folder, so that a zoo
  being trained stays loadable), deleted once the model is exported (it is tens of MB and
  a finished model needs no resume), kept when a run stops early or is interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelCentralityError, ParameterError
from ..io import METADATA_FILE
from .grouped import DeviceImages, GroupedTrainer, resolve_draws
from .infogan_cr import InfoGANCRTrainer
from .presets import make_config
from .training import DataFn, Trainer, dataset_sampler, load_checkpoint, run_training
from .vae import BetaVAETrainer, FactorVAETrainer

TRAINERS: dict[str, type[Trainer]] = {
    "infogan-cr": InfoGANCRTrainer,
    "factorvae": FactorVAETrainer,
    "beta-vae": BetaVAETrainer,
}


def default_checkpoint(out_dir: str | os.PathLike) -> Path:
    """``ZOO/.checkpoints/NAME.pt`` for the output folder ``ZOO/NAME``."""
    out_dir = Path(out_dir)
    return out_dir.parent / ".checkpoints" / f"{out_dir.name}.pt"


def modified_folder(out_dir: str | os.PathLike) -> Path:
    """``ZOO/NAME_modified`` for the output folder ``ZOO/NAME``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "_modified")


@dataclass
class TrainResult:
    """What :func:`train_model` produced.

    Attributes
    ----------
    out_dir : Path
        The exported model folder (None if the run was stopped early).
    modified_dir : Path or None
        The "InfoGAN (modified)" folder, when one was exported.
    iterations : int
        Iterations done.
    losses : dict
        Losses of the last iteration run in this call.
    """

    out_dir: Path | None
    modified_dir: Path | None
    iterations: int
    losses: dict[str, float]


def make_data(data: str | DataFn) -> DataFn:
    """A data function from a dataset spec (see ``datasets.get_dataset``) or as given."""
    if callable(data):
        return data
    from ..datasets import get_dataset

    return dataset_sampler(get_dataset(data))


def train_model(
    method: str,
    out_dir: str | os.PathLike,
    *,
    preset: str = "paper",
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    data: str | DataFn = "dsprites",
    resume: bool = False,
    checkpoint: str | os.PathLike | None = None,
    modified_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    stop_after: int | None = None,
    keep_checkpoint: bool = False,
) -> TrainResult:
    """Train one reference model and export it as a zoo model folder: :func:`train_models`
    with one model, on this process's CPU threads and numpy draws.

    Parameters
    ----------
    method : {"infogan-cr", "factorvae", "beta-vae"}
    out_dir : path-like
        Model folder to write (must not hold a model yet, unless ``resume``).
    preset : {"paper", "cpu", "gpu"}
    overrides : dict, optional
        Settings to change (see :func:`~.presets.make_config`).
    seed : int
        Decides the initial weights and every random draw of training.
    data : str or callable
        Dataset spec (``"dsprites"``, ``"dsprites:PATH.npz"``...) or a function
        ``(n, rng) -> float32 (n, 1, 64, 64)``.
    resume : bool
        Continue from the checkpoint if there is one.
    checkpoint : path-like, optional
        Default :func:`default_checkpoint`.
    modified_dir : path-like, optional
        InfoGAN-CR only; default :func:`modified_folder`.
    progress : bool or None
        Progress bar on stderr with the latest losses (None: only on a terminal).
    stop_after : int, optional
        Stop after this many iterations in total (checkpointed, not exported).
    keep_checkpoint : bool
        Keep the checkpoint after the model is exported (default: delete it).

    Raises
    ------
    ParameterError
        Unknown method, preset or setting.
    ModelCentralityError
        The output already holds a model (without ``resume``), the checkpoint belongs to
        another run, or training diverged.
    """
    (result,) = train_models(
        method,
        [out_dir],
        [seed],
        preset=preset,
        overrides=[overrides],
        data=data,
        modified_dirs=None if modified_dir is None else [modified_dir],
        checkpoints=None if checkpoint is None else [checkpoint],
        resume=resume,
        keep_checkpoints=keep_checkpoint,
        progress=progress,
        stop_after=stop_after,
        log_every=1,
    )
    return result


def train_models(
    method: str,
    out_dirs: Sequence[str | os.PathLike],
    seeds: Sequence[int],
    *,
    preset: str = "paper",
    overrides: Sequence[dict[str, Any] | None] | None = None,
    data: str | DataFn = "dsprites",
    device: str | None = None,
    draws: str | None = None,
    images: DeviceImages | None = None,
    modified_dirs: Sequence[str | os.PathLike | None] | None = None,
    checkpoints: Sequence[str | os.PathLike] | None = None,
    resume: bool = False,
    keep_checkpoints: bool = False,
    bf16: bool = False,
    progress: bool | None = None,
    stop_after: int | None = None,
    log_every: int = 200,
    log: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """Train K models of one method together and export each as a zoo model folder.

    Each model has its own folder ``ZOO/NAME``, "InfoGAN (modified)" folder
    ``ZOO/NAME_modified`` (unless ``modified_dirs`` says otherwise) and single-model
    checkpoint ``ZOO/.checkpoints/NAME.pt`` (a model may be continued in a group of
    any size), deleted once its model is exported unless ``keep_checkpoints``.

    Parameters
    ----------
    method : {"infogan-cr", "factorvae", "beta-vae"}
    out_dirs : sequence of path-like
        One model folder per model (K of them).
    seeds : sequence of int
        One seed per model.
    preset : str
    overrides : sequence of dict, optional
        Setting overrides per model; they may differ only in the trainer's
        ``per_model_settings``.
    data : str or callable
        Dataset spec or draw function (numpy draws).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... Given, model.json records the run as
        grouped (``training.grouped``); None trains on the CPU and records nothing.
    draws : {"numpy", "device"} or None
        See :mod:`~.grouped`; None: "device" on CUDA, else "numpy".
    images : DeviceImages, optional
        Images already on the device (default: all of ``data``, for device draws).
    modified_dirs : sequence of path-like or None, optional
        InfoGAN-CR only: where each "InfoGAN (modified)" model goes.
    checkpoints : sequence of path-like, optional
        One checkpoint file per model (default :func:`default_checkpoint`).
    resume : bool
        Continue each model from its checkpoint; every model must then be at the same
        iteration (fresh models at 0).
    keep_checkpoints : bool
    bf16 : bool
        bfloat16 autocast of the forward passes.
    progress, stop_after, log_every, log
        As in :func:`~.training.run_training`.

    Raises
    ------
    ParameterError
        Unknown method, preset or setting, or models that cannot share a group.
    ModelCentralityError
        A model folder already holds a model or a checkpoint exists (without
        ``resume``), a checkpoint belongs to another run, or training diverged.
    """
    out_dirs = [Path(d) for d in out_dirs]
    if len(seeds) != len(out_dirs):
        raise ParameterError("give one seed per model folder")
    overrides = list(overrides) if overrides is not None else [None] * len(out_dirs)
    configs = [make_config(method, preset, o) for o in overrides]
    data_fn = make_data(data)
    if method == "infogan-cr" and modified_dirs is None:
        modified_dirs = [modified_folder(d) for d in out_dirs]
    if checkpoints is None:
        checkpoints = [default_checkpoint(d) for d in out_dirs]
    checkpoints = [Path(c) for c in checkpoints]
    trainers = []
    for k, (out_dir, config, seed) in enumerate(zip(out_dirs, configs, seeds)):
        checkpoint = checkpoints[k]
        if (out_dir / METADATA_FILE).exists():
            if not resume:
                raise ModelCentralityError(
                    f"{out_dir} already holds a model; pass --resume or delete it"
                )
            if not checkpoint.exists():
                # Finished and its checkpoint deleted: nothing to continue.
                raise ModelCentralityError(
                    f"{out_dir} holds a finished model; delete it to retrain"
                )
        kwargs = {"modified_dir": modified_dirs[k]} if method == "infogan-cr" else {}
        trainer = TRAINERS[method](config, data_fn, seed, **kwargs)
        if checkpoint.exists():
            if not resume:
                raise ModelCentralityError(
                    f"checkpoint {checkpoint} exists: pass --resume to continue it, "
                    "or delete it to start over"
                )
            load_checkpoint(trainer, checkpoint)
        trainers.append(trainer)
    run_info: dict[str, Any] = {
        "preset": preset,
        "data": data if isinstance(data, str) else "custom",
    }
    on = torch.device("cpu" if device is None else device)
    draws = resolve_draws(draws, on)
    if draws == "device" and images is None:
        if not isinstance(data, str):
            raise ParameterError("device draws need a dataset spec, not a draw function")
        images = DeviceImages.from_dataset(data, on)
    group = GroupedTrainer(trainers, device=on, draws=draws, images=images, bf16=bf16)
    if device is not None:
        run_info["grouped"] = {
            "models": group.size,
            "draws": draws,
            "device": on.type,
            "bf16": bf16,
        }
    for trainer in trainers:
        trainer.run_info = run_info
    losses = run_training(
        group,
        checkpoints,
        progress=progress,
        stop_after=stop_after,
        log_every=log_every,
        log=log,
    )
    results = []
    for k, (trainer, out_dir, checkpoint) in enumerate(zip(trainers, out_dirs, checkpoints)):
        modified = None
        folder = modified_dirs[k] if method == "infogan-cr" else None
        if folder is not None and (Path(folder) / METADATA_FILE).exists():
            modified = Path(folder)
        model_losses = {name: float(value[k]) for name, value in losses.items()}
        if group.step < trainer.config.iterations:
            results.append(TrainResult(None, modified, group.step, model_losses))
            continue
        trainer.export(out_dir, {})
        if not keep_checkpoints:
            checkpoint.unlink(missing_ok=True)
        results.append(TrainResult(out_dir, modified, group.step, model_losses))
    return results
