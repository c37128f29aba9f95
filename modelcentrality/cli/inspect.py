"""``modelcentrality inspect``: validate a model folder, or every model of a zoo."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..contract import Prior, probe_model, skip_reason
from ..errors import ModelCentralityError, printable
from ..io import METADATA_FILE, load_model, model_folders
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
    """Validate MODEL_DIR and print its contract and output ranges on a few samples.

    MODEL_DIR may also be a zoo (a folder of model folders): every model is then
    checked, one line each, and the exit status is 1 when any fails.
    """
    if model_dir.is_dir() and not (model_dir / METADATA_FILE).exists():
        folders = model_folders(model_dir)
        if not folders:
            raise ModelCentralityError(
                f"{model_dir} is neither a model folder (no {METADATA_FILE}) nor a zoo "
                f"(no model folders inside)"
            )
        _inspect_zoo(model_dir, folders, samples, seed, as_json, follow_symlinks)
        return
    model = load_model(model_dir, follow_symlinks=follow_symlinks)
    report = probe_model(model, n=samples, random_state=seed)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        click.echo(printable(f"{key:18} {_describe(value) if key == 'prior' else value}"))
    warning = _range_warning(report)
    if warning:
        click.echo(printable(f"warning: {warning}"))
    click.echo("ok: the model satisfies the contract")


def _inspect_zoo(zoo_dir, folders, samples, seed, as_json, follow_symlinks) -> None:
    """One line per model of a zoo; a one-line error after them when any fails."""
    reports: dict[str, dict] = {}
    failed = 0
    width = max(len(printable(folder.name)) for folder in folders)
    lines = []
    for folder in folders:
        try:
            model = load_model(folder, follow_symlinks=follow_symlinks, root=zoo_dir)
            report = probe_model(model, n=samples, random_state=seed)
        except ModelCentralityError as exc:
            failed += 1
            _, problem = skip_reason(exc, folder.name)
            reports[folder.name] = {"error": problem}
            lines.append(f"{printable(folder.name):{width}}  error: {printable(problem)}")
            continue
        reports[folder.name] = report
        observations = report["observation_range"]
        summary = (
            f"ok  {report['kind']}, latent_dim {report['latent_dim']}, "
            f"{len(report['code_dims'])} codes, prior {_describe(report['prior'])}, "
            f"observations in [{observations[0]:.3g}, {observations[1]:.3g}]"
        )
        warning = _range_warning(report)
        lines.append(
            f"{printable(folder.name):{width}}  {summary}"
            + (f"; warning: {warning}" if warning else "")
        )
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        click.echo("\n".join(lines))
    if failed:
        raise ModelCentralityError(
            f"{failed} of the {len(folders)} models of {zoo_dir} fail the contract"
        )
    if not as_json:
        click.echo(f"ok: all {len(folders)} models of the zoo satisfy the contract")


def _range_warning(report: dict) -> str | None:
    """A note when the observations leave [0, 1], where the contract wants probabilities."""
    low, high = report["observation_range"]
    if low >= 0 and high <= 1:
        return None
    return (
        f"observations range over [{low:.3g}, {high:.3g}], outside [0, 1]: the generator "
        f"must return probabilities (a sigmoid's output, not logits or samples)"
    )


def _describe(prior: dict) -> str:
    """E.g. ``uniform(-1, 1)`` from the prior's dict (the loaded model's, so valid)."""
    return Prior.from_dict(prior).describe()
