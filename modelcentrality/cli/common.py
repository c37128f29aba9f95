"""Shared CLI plumbing: tables, skip reports, loading a zoo for a dataset."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..contract import Model
from ..contract._screening import filter_by_shape
from ..errors import ModelError, ZooError
from ..io import load_zoo

POSITIVE = click.IntRange(min=1)

output_option = click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write the result JSON here."
)
data_option = click.option(
    "--data",
    "data_spec",
    default="dsprites",
    show_default=True,
    help="Dataset: dsprites, color_dsprites, noisy_dsprites, or NAME:PATH to the official .npz.",
)
threads_option = click.option(
    "--threads", type=POSITIVE, help="ONNX Runtime intra-op threads per model."
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
        return str(value)

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
        click.echo(f"skipped model '{name}': {reason}", err=True)


def load_zoo_for_dataset(
    zoo: Path,
    dataset: Any,
    data_spec: str,
    *,
    skip_bad: bool,
    batch_size: int,
    threads: int | None,
) -> tuple[list[Model], dict[str, str]]:
    """Load a zoo and keep the models whose observations have the dataset's shape.

    Shapes are checked for the whole zoo before any model is used, so a mismatch stops
    a long run before it starts. Returns the usable models and name -> skip reason
    (mismatches raise instead unless ``skip_bad``).
    """
    models = load_zoo(zoo, skip_bad=skip_bad, batch_size=batch_size, threads=threads)
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
