"""``modelcentrality synthetic-zoo``: write a synthetic zoo with known entanglement."""

from __future__ import annotations

from pathlib import Path

import click

from ..io import METADATA_FILE
from ..testing import make_synthetic_zoo
from .common import FACTORS, SEED


@click.command("synthetic-zoo")
@click.argument("zoo", type=click.Path(path_type=Path))
@click.option(
    "--good",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Models with entanglement 0.1 (small rotations of the factors).",
)
@click.option(
    "--entangled",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Models with entanglement 1.0 (factor pairs mixed half and half).",
)
@click.option("--factors", type=FACTORS, default=4, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
def synthetic_command(zoo, good, entangled, factors, seed):
    """Write a synthetic ZOO of ONNX models whose disentanglement is known.

    Every model inverts its own generator exactly; well-disentangled models should rank
    above the entangled ones.
    """
    if zoo.exists() and any(zoo.glob(f"*/{METADATA_FILE}")):
        raise click.UsageError(f"{zoo} already holds models; choose an empty folder")
    if good + entangled < 2:
        raise click.UsageError("a zoo needs at least 2 models")
    make_synthetic_zoo(
        zoo, [0.1] * good + [1.0] * entangled, n_factors=factors, random_state=seed
    )
    click.echo(f"wrote {good + entangled} models to {zoo}")
