"""``modelcentrality inspect``: validate one model folder and show its contract."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..contract._screening import probe_model
from ..errors import printable
from ..io import load_model
from .common import PROBE_SAMPLES, SEED, follow_symlinks_option


@click.command("inspect")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option(
    "--samples",
    type=PROBE_SAMPLES,
    default=8,
    show_default=True,
    help="Prior samples to run through the model.",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@follow_symlinks_option
def inspect_command(model_dir, samples, seed, as_json, follow_symlinks):
    """Validate MODEL_DIR and print its contract and output ranges on a few samples."""
    model = load_model(model_dir, follow_symlinks=follow_symlinks)
    report = probe_model(model, n=samples, random_state=seed)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        click.echo(printable(f"{key:18} {_describe(value) if key == 'prior' else value}"))
    click.echo("ok: the model satisfies the contract")


def _describe(prior: object) -> str:
    """``uniform(-1, 1)`` or ``normal(0, 1)`` from the prior's dict."""
    if not isinstance(prior, dict) or prior.get("type") not in ("uniform", "normal"):
        return str(prior)
    keys = ("low", "high") if prior["type"] == "uniform" else ("mean", "std")
    return f"{prior['type']}({', '.join(f'{prior[k]:g}' for k in keys)})"
