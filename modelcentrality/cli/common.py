"""Shared CLI plumbing: tables, skip reports, loading a zoo for a dataset."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..contract import Model, filter_by_shape
from ..engine import MAX_GROUP_SIZE, MAX_SCALE_SAMPLES
from ..errors import ModelError, ZooError, printable
from ..execution import default_n_jobs
from ..io import load_zoo, unwritable_folder_reason, unwritable_reason

POSITIVE = click.IntRange(min=1)
#: Seeds key numpy generators, which take non-negative integers.
SEED = click.IntRange(0, 2**32 - 1)
#: Sane upper bounds: far above any useful run, far below what exhausts a machine.
GROUP_SIZE = click.IntRange(2, MAX_GROUP_SIZE)
SCALE_SAMPLES = click.IntRange(2, MAX_SCALE_SAMPLES)
PROBE_SAMPLES = click.IntRange(1, 10_000)
UDR_SAMPLES = click.IntRange(2, 100_000)
FACTORS = click.IntRange(2, 32)


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses NaN and infinities (which pass its comparisons)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


def _check_output(ctx: click.Context, param: click.Parameter, value: Path | None):
    # Checked before the run, so that a long run never fails at its last step.
    if value is not None:
        reason = unwritable_reason(value)
        if reason:
            raise click.BadParameter(f"{printable(str(value))}: {reason}", ctx, param)
    return value


def check_output_folder(ctx: click.Context, param: click.Parameter, value: Path | None):
    """Click callback: refuse a folder that cannot be created or written, before the run."""
    if value is not None:
        reason = unwritable_folder_reason(value)
        if reason:
            raise click.BadParameter(f"{printable(str(value))}: {reason}", ctx, param)
    return value


def bound_threads(ctx: click.Context, param: click.Parameter, value: int | None):
    """Click callback: lower a thread count above the CPUs available to their number."""
    cpus = default_n_jobs()
    if value is not None and value > cpus:
        click.echo(
            f"modelcentrality: note: --threads {value} is more than the {cpus} CPUs "
            f"available; using {cpus}",
            err=True,
        )
        return cpus
    return value


output_option = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    callback=_check_output,
    help="Write the result JSON here.",
)
follow_symlinks_option = click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Read model folders, files and ONNX external data that are symlinks out of the "
    "zoo (refused by default).",
)
data_option = click.option(
    "--data",
    "data_spec",
    default="dsprites",
    show_default=True,
    help="Dataset: dsprites, color_dsprites, noisy_dsprites, or NAME:PATH to the official .npz.",
)
threads_option = click.option(
    "--threads",
    type=POSITIVE,
    callback=bound_threads,
    help="ONNX Runtime intra-op threads per model (at most the CPUs available).",
)
batch_size_option = click.option(
    "--batch-size", type=POSITIVE, default=1024, show_default=True, help="Rows per ONNX call."
)
skip_bad_option = click.option(
    "--skip-bad", is_flag=True, help="Skip unusable models instead of stopping."
)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned text table under left-aligned headers: text (names) left-aligned,
    numbers right-aligned; floats are shown with 4 decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return printable(str(value))

    def is_number(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        try:
            float(value)
        except ValueError:
            return False
        return True

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(
            c.rjust(w) if is_number(v) else c.ljust(w) for v, c, w in zip(row, r, widths)
        ).rstrip()
        for row, r in zip(rows, cells)
    ]
    return "\n".join(lines)


def echo_skipped(skipped: dict[str, str]) -> None:
    for name, reason in skipped.items():
        click.echo(printable(f"skipped model '{name}': {reason}"), err=True)


def load_zoo_for_dataset(
    zoo: Path,
    dataset: Any,
    data_spec: str,
    *,
    skip_bad: bool,
    batch_size: int,
    threads: int | None,
    follow_symlinks: bool = False,
) -> tuple[list[Model], dict[str, str]]:
    """Load a zoo and keep the models whose observations have the dataset's shape.

    Shapes are checked for the whole zoo before any model is used, so a mismatch stops
    a long run before it starts. Returns the usable models and name -> skip reason
    (mismatches raise instead unless ``skip_bad``).
    """
    models = load_zoo(
        zoo,
        skip_bad=skip_bad,
        batch_size=batch_size,
        threads=threads,
        follow_symlinks=follow_symlinks,
    )
    try:
        usable, skipped = filter_by_shape(
            models, dataset.observation_shape, f"dataset '{data_spec}'", skip_bad=skip_bad
        )
    except ModelError as exc:
        raise ModelError(
            exc.model,
            f"{exc.problem}: this command needs models of the dataset's images "
            "(synthetic zoos are for `rank` only)",
        ) from None
    if not usable:
        raise ZooError(
            f"{zoo}: no model produces the observations of dataset '{data_spec}' "
            f"{tuple(dataset.observation_shape)} (synthetic zoos are for `rank` only)"
        )
    return usable, {**models.skipped, **skipped}
