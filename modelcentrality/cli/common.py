"""Shared CLI plumbing: tables and skip reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned text table; floats are shown with 4 decimals."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in cells
    ]
    return "\n".join(lines)


def echo_skipped(skipped: dict[str, str]) -> None:
    for name, reason in skipped.items():
        click.echo(f"skipped model '{name}': {reason}", err=True)
