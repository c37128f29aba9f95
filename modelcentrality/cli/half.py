"""``modelcentrality half-weights``: store a zoo's ONNX weights in float16."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import printable
from ..io import halve_zoo, model_folders
from .common import follow_symlinks_option


@click.command("half-weights")
@click.argument("zoo", type=click.Path(path_type=Path))
@follow_symlinks_option
def half_weights_command(zoo, follow_symlinks):
    """Store the weights of every model in ZOO in float16, in place.

    Halves the files; the models still compute in float32 (the weights are cast back
    when a model loads), so only the weights' rounding changes the outputs. Models
    already converted are left as they are. The files are rewritten in place and no
    float32 copy is kept: copy the zoo first if you want to check, e.g. with
    `modelcentrality evaluate`, that scores did not move.
    """
    if not model_folders(zoo):
        raise click.UsageError(f"{zoo}: no model folders")
    for name, count in halve_zoo(zoo, follow_symlinks=follow_symlinks).items():
        done = f"{count} weight tensors converted" if count else "unchanged"
        click.echo(printable(f"{name}: {done}"))
