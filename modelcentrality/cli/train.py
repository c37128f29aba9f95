"""``modelcentrality train``: train one reference model (InfoGAN-CR, FactorVAE, beta-VAE);
``modelcentrality train-zoo``: a zoo of them, one model per process or grouped on a device."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ModelCentralityError
from ..reference_models.presets import (
    CONFIGS,
    PRESETS,
    estimated_cpu_seconds,
    make_config,
    parse_assignments,
)
from .common import SEED, AliasedOption, bound_threads

#: Estimated CPU runs longer than this ask for confirmation first (the cpu preset stays
#: under it; the paper preset takes days).
CONFIRM_ABOVE_SECONDS = 2 * 3600


progress_option = click.option(
    "--quiet/--progress",
    "--no-progress",
    "quiet",
    cls=AliasedOption,
    aliases=["--progress", "--no-progress"],
    default=False,
    help="No progress (by default: a bar on a terminal, a line every 15 s in a log).",
)


def settings_option(function):
    return click.option(
        "--set",
        "settings",
        multiple=True,
        metavar="KEY=VALUE",
        help="Change one setting of the preset (repeatable), e.g. --set tc_weight=20.",
    )(function)


def parse_settings(method: str, preset: str, settings: tuple[str, ...]) -> dict[str, str]:
    """Validate ``--set`` items against a trainer's settings; click errors on bad ones."""
    try:
        overrides = parse_assignments(settings)
        make_config(method, preset, overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None
    return overrides


def setup_torch(threads: int, deterministic: bool = True):
    """Import torch for training: fixed thread count, deterministic algorithms (on CPU;
    on CUDA they would need CUBLAS_WORKSPACE_CONFIG and slow training down)."""
    try:
        import torch
    except ImportError:
        raise ModelCentralityError(
            "training needs PyTorch: pip install 'modelcentrality[torch]'"
        ) from None
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    return torch


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(seconds / 60, 1):.0f} minutes"
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def stdin_is_interactive() -> bool:
    """Whether someone can answer a prompt (stdin is a terminal)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _ask(message: str, yes: bool, alternative: str) -> None:
    """Ask before a long run unless ``yes``; without a terminal, a one-line refusal."""
    if yes:
        return
    if not stdin_is_interactive():
        raise click.ClickException(f"{message}: pass --yes to start it anyway, or {alternative}")
    click.echo(message + ".", err=True)
    if not click.confirm("Start it?", default=False, err=True):
        raise click.exceptions.Exit(1)


def confirm_long_run(method: str, preset: str, overrides: dict[str, str], yes: bool) -> None:
    """Refuse to start a CPU run of many hours by accident: print its estimated duration
    and ask, unless ``yes``; without a terminal to ask on, stop with a one-line error."""
    seconds = estimated_cpu_seconds(make_config(method, preset, overrides))
    if seconds <= CONFIRM_ABOVE_SECONDS:
        return
    message = (
        f"{method} with the {preset} preset takes about {_duration(seconds)} on a CPU "
        "(one thread, per-iteration time measured on a 2-core machine)"
    )
    _ask(message, yes, "choose --preset cpu")


def zoo_cpu_plan(spec: str, zoo_dir: str, jobs: int) -> tuple[int, int, float]:
    """Models of a zoo spec, those still to train (no exported model yet), and the
    estimated CPU seconds to train them ``jobs`` at a time, at the per-iteration times
    measured on a 2-core machine (one thread per model)."""
    from ..io import METADATA_FILE
    from ..reference_models.zoo_job import load_spec, model_plan

    loaded = load_spec(spec)
    plan = model_plan(loaded)
    todo = [m for m in plan if not (Path(zoo_dir) / m["name"] / METADATA_FILE).exists()]
    seconds = sum(
        estimated_cpu_seconds(make_config(loaded["method"], loaded["preset"], m["overrides"]))
        for m in todo
    )
    return len(plan), len(todo), seconds / max(1, min(jobs, len(todo) or 1))


def confirm_zoo_run(spec: str, zoo_dir: str, jobs: int, yes: bool, progress: bool) -> None:
    """Print the CPU estimate of a zoo run (with ``progress``), or ask first when it is
    more than a few hours (see :func:`confirm_long_run`)."""
    total, todo, seconds = zoo_cpu_plan(spec, zoo_dir, jobs)
    message = (
        f"train-zoo: {todo} of {total} models to train, {min(jobs, max(todo, 1))} at a "
        f"time: about {_duration(seconds)} on a CPU (per-iteration times measured on a "
        "2-core machine; the first finished model gives a measured estimate)"
    )
    if seconds > CONFIRM_ABOVE_SECONDS:
        _ask(message, yes, "choose a -cpu zoo preset")
    elif progress:
        click.echo(message, err=True)


@click.command("train")
@click.argument("method", type=click.Choice(list(CONFIGS)))
@click.option(
    "--data",
    default="dsprites",
    show_default=True,
    help="Dataset: dsprites (rendered) or dsprites:PATH to the official .npz.",
)
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default="paper",
    show_default=True,
    help="paper: the published schedule; cpu: one model in at most 30 min on 2 CPU cores; "
    "gpu: sized for a 24-model zoo grouped on one GPU (train-zoo --device cuda).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@settings_option
@click.option(
    "-o",
    "--output",
    "--out",
    "out_dir",
    cls=AliasedOption,
    aliases=["--out"],
    required=True,
    type=click.Path(file_okay=False),
    help="Model folder to write, e.g. ZOO/infogan_cr_s0.",
)
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint.")
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    default=None,
    help="Checkpoint file [default: OUT/../.checkpoints/NAME.pt].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    callback=bound_threads,
    help="CPU threads, at most the CPUs available (results are reproducible for a fixed count).",
)
@progress_option
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Start a run of many hours (e.g. --preset paper on a CPU) without asking.",
)
@click.option(
    "--keep-checkpoint",
    is_flag=True,
    help="Keep the checkpoint after export [default: delete it; kept on interruption].",
)
def train_command(
    method,
    data,
    preset,
    seed,
    settings,
    out_dir,
    resume,
    checkpoint,
    threads,
    quiet,
    yes,
    keep_checkpoint,
):
    """Train a reference model and export it to the zoo folder format.

    METHOD is infogan-cr, factorvae or beta-vae. InfoGAN-CR also writes the model taken
    just before the contrastive regulariser starts ("InfoGAN (modified)") to OUT_modified.
    Training is deterministic under --seed; checkpoints are written periodically and
    --resume continues from the last one (also after the process was killed). A run
    estimated at more than two hours (the paper preset: days on a CPU) asks first;
    --yes skips the question. For GPUs see train-zoo --device.
    """
    overrides = parse_settings(method, preset, settings)
    confirm_long_run(method, preset, overrides, yes)
    setup_torch(threads)
    from ..reference_models.train import train_model

    result = train_model(
        method,
        out_dir,
        preset=preset,
        overrides=overrides,
        seed=seed,
        data=data,
        resume=resume,
        checkpoint=checkpoint,
        progress=not quiet,
        keep_checkpoint=keep_checkpoint,
    )
    click.echo(f"trained {method} ({result.iterations} iterations): {result.out_dir}")
    if result.modified_dir is not None:
        click.echo(f"InfoGAN (modified): {result.modified_dir}")


@click.command("train-zoo")
@click.argument("spec")
@click.option(
    "-o",
    "--output",
    "--out",
    "zoo_dir",
    cls=AliasedOption,
    aliases=["--out"],
    required=True,
    type=click.Path(file_okay=False),
    help="Zoo folder (models, manifest.json); InfoGAN (modified) models go to "
    "ZOO_modified.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Models trained at once, one process each.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    callback=bound_threads,
    help="CPU threads per model (at most the CPUs available).",
)
@progress_option
@click.option(
    "--device",
    default=None,
    help="Train the models together as grouped networks on this device (cuda, cuda:1, "
    "cpu) [default: one model per job].",
)
@click.option(
    "--draws",
    type=click.Choice(["numpy", "device"]),
    default=None,
    help="With --device: random draws on the host (equal to single-model runs) or on the "
    "device (fast) [default: device on CUDA, numpy on CPU].",
)
@click.option(
    "--group-size",
    type=click.IntRange(min=1),
    default=None,
    help="With --device: most models per group [default: all that fit one group].",
)
@click.option("--bf16", is_flag=True, help="With --device: bfloat16 autocast (faster GPUs).")
@click.option(
    "--skip-scores",
    is_flag=True,
    help="Only train and export; run again without it to score the models.",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Start a CPU run of many hours (e.g. a paper-preset zoo) without asking.",
)
def train_zoo_command(
    spec,
    zoo_dir,
    jobs,
    threads,
    quiet,
    device,
    draws,
    group_size,
    bf16,
    skip_scores,
    yes,
):
    """Train a zoo of reference models and score them against the ground truth.

    SPEC is a JSON zoo spec or one of infogan-cr-paper, factorvae-paper, infogan-cr-cpu,
    factorvae-cpu, infogan-cr-gpu, factorvae-gpu. Resumable: run the same command again to
    skip finished models and continue partial ones. Writes ZOO/manifest.json with every
    model's settings and its FactorVAE (paper protocol), MIG and DCI scores. A CPU run
    estimated at more than two hours (the paper presets: days) asks first; --yes skips
    the question, and without a terminal to ask on it stops with one line. With
    --device, all models are trained at once in this process as one grouped network per
    group (each model still its own weights, optimiser, seed and batches).
    """
    for name, value in (("--draws", draws), ("--group-size", group_size), ("--bf16", bf16)):
        if value and device is None:
            raise click.UsageError(f"{name} needs --device")
    if device is None or device == "cpu":
        confirm_zoo_run(spec, zoo_dir, jobs, yes, not quiet)
    setup_torch(threads, deterministic=device is None or device == "cpu")
    from ..reference_models.zoo_job import train_zoo

    manifest = train_zoo(
        spec,
        zoo_dir,
        n_jobs=jobs,
        threads=threads,
        progress=not quiet,
        log=click.echo,
        device=device,
        draws=draws,
        group_size=group_size,
        skip_scores=skip_scores,
        bf16=bf16,
    )
    click.echo(f"{len(manifest['models'])} models; manifest: {zoo_dir}/manifest.json")
