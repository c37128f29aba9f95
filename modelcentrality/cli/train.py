"""``modelcentrality train``: train one reference model (InfoGAN-CR, FactorVAE, beta-VAE)."""

from __future__ import annotations

import click

from ..errors import ModelCentralityError
from ..reference_models.presets import CONFIGS, PRESETS, make_config, parse_assignments


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


def setup_torch(threads: int):
    """Import torch for training: fixed thread count, deterministic algorithms."""
    try:
        import torch
    except ImportError:
        raise ModelCentralityError(
            "training needs PyTorch: pip install 'modelcentrality[torch]'"
        ) from None
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch


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
    help="paper: the published schedule; cpu: one model in at most 30 min on 2 CPU cores.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@settings_option
@click.option(
    "-o",
    "--out",
    "out_dir",
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
    help="CPU threads (results are reproducible for a fixed count).",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Progress: a bar on a terminal, a line every 15 s in a log.",
)
def train_command(
    method, data, preset, seed, settings, out_dir, resume, checkpoint, threads, progress
):
    """Train a reference model and export it to the zoo folder format.

    METHOD is infogan-cr, factorvae or beta-vae. InfoGAN-CR also writes the model taken
    just before the contrastive regulariser starts ("InfoGAN (modified)") to OUT_modified.
    Training is deterministic under --seed; checkpoints are written periodically and
    --resume continues from the last one (also after the process was killed).
    """
    overrides = parse_settings(method, preset, settings)
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
        progress=progress,
    )
    click.echo(f"trained {method} ({result.iterations} iterations): {result.out_dir}")
    if result.modified_dir is not None:
        click.echo(f"InfoGAN (modified): {result.modified_dir}")


@click.command("train-zoo")
@click.argument("spec")
@click.option(
    "-o",
    "--out",
    "zoo_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Zoo folder (models, manifest.json); InfoGAN (modified) models go to ZOO_modified.",
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
    help="CPU threads per model.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Progress: a bar on a terminal, a line every 15 s in a log.",
)
def train_zoo_command(spec, zoo_dir, jobs, threads, progress):
    """Train a zoo of reference models and score them against the ground truth.

    SPEC is a JSON zoo spec or one of infogan-cr-paper, factorvae-paper, infogan-cr-cpu,
    factorvae-cpu. Resumable: run the same command again to skip finished models and
    continue partial ones. Writes ZOO/manifest.json with every model's settings and its
    FactorVAE (paper protocol), MIG and DCI scores.
    """
    setup_torch(threads)
    from ..reference_models.zoo_job import train_zoo

    manifest = train_zoo(
        spec, zoo_dir, jobs=jobs, threads=threads, progress=progress, log=click.echo
    )
    click.echo(f"{len(manifest['models'])} models; manifest: {zoo_dir}/manifest.json")
