"""Shared CLI plumbing: options, tables, skip reports."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ..engine import MAX_GROUP_SIZE, MAX_SCALE_SAMPLES
from ..errors import printable
from ..execution import default_n_jobs
from ..io import unwritable_folder_reason, unwritable_reason

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


class AliasedOption(click.Option):
    """An option whose old spellings (``aliases``, also in its declarations) still parse
    but are left out of ``--help`` and error messages."""

    def __init__(self, *args: Any, aliases: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = set(aliases)

    def _shown(self) -> click.Option:
        shown = copy.copy(self)
        shown.opts = [name for name in self.opts if name not in self.aliases]
        shown.secondary_opts = [
            name for name in self.secondary_opts if name not in self.aliases
        ]
        return shown

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        return click.Option.get_help_record(self._shown(), ctx)

    def get_error_hint(self, ctx: click.Context) -> str:
        return click.Option.get_error_hint(self._shown(), ctx)


def refuse_unwritable(
    ctx: click.Context, param: click.Parameter, value: Path | None, reason: Callable
) -> Path | None:
    """Raise click's BadParameter when ``reason(value)`` names why ``value`` is unwritable."""
    # Checked before the run, so that a long run never fails at its last step.
    if value is not None:
        problem = reason(value)
        if problem:
            raise click.BadParameter(f"{printable(str(value))}: {problem}", ctx, param)
    return value


def _check_output(ctx: click.Context, param: click.Parameter, value: Path | None):
    return refuse_unwritable(ctx, param, value, unwritable_reason)


def check_output_folder(ctx: click.Context, param: click.Parameter, value: Path | None):
    """Click callback: refuse a folder that cannot be created or written, before the run."""
    return refuse_unwritable(ctx, param, value, unwritable_folder_reason)


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

