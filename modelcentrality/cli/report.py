"""``modelcentrality report`` and what ``rank`` prints and writes after a ranking:
the search's stop reason, ground truth, UDR and the HTML report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ..contract import Model
from ..errors import ModelCentralityError, printable
from ..io import load_zoo, unwritable_folder_reason
from ..report import (
    REPORT_FILE,
    GroundTruth,
    pyplot,
    ranking_notes,
    read_ground_truth,
    report_ranking,
)
from ..selection import RankResult
from .common import POSITIVE, refuse_unwritable


def _check_report_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    if value is not None:
        pyplot()
    return refuse_unwritable(
        ctx, param, value, lambda folder: unwritable_folder_reason(folder, REPORT_FILE)
    )


def _read_truth(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    # Read before the run: an unusable file is a bad option value.
    try:
        return None if value is None else read_ground_truth(value)
    except ModelCentralityError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _into_report(check: Callable | None = None) -> Callable:
    """A click callback that checks a value (``check``) and files it under the command's
    one ``report`` argument, the keyword arguments of :func:`report_outcome`."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if check is not None:
            value = check(ctx, param, value)
        ctx.params.setdefault("report", {})[param.name] = value
        return value

    return callback


def _report_option(*decls: str, check: Callable | None = None, **attrs: Any) -> Callable:
    return click.option(*decls, callback=_into_report(check), expose_value=False, **attrs)


def report_options(command: Callable) -> Callable:
    """--report, --ground-truth, --udr and --udr-samples (read and checked before the run),
    passed to the command as one ``report`` dict for :func:`report_outcome`."""
    options = [
        _report_option(
            "--report",
            "report_dir",
            type=click.Path(path_type=Path),
            check=_check_report_dir,
            help="Write an HTML report (ranking, similarity heatmap, traversals) into "
            "this folder: DIR/index.html, self-contained, opens offline.",
        ),
        _report_option(
            "--ground-truth",
            type=click.Path(path_type=Path),
            check=_read_truth,
            help="Compare with ground-truth FactorVAE / MIG scores from a train-zoo "
            "manifest.json or an `evaluate -o` JSON: Kendall tau, and the pick's score "
            "against the best model's. Warns when the scores were computed on other "
            "dSprites images than the current renderer's (recorded ground_truth_version).",
        ),
        _report_option(
            "--udr",
            is_flag=True,
            help="Also score the zoo by UDR (Lasso) on dSprites observations and show it "
            "beside ModelCentrality (the models must produce 64x64 dSprites images).",
        ),
        _report_option(
            "--udr-samples",
            type=POSITIVE,
            default=500,
            show_default=True,
            help="Observations each model encodes for --udr.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def report_outcome(
    result: Any,
    models: Sequence[Model],
    *,
    report_dir: Path | None = None,
    ground_truth: GroundTruth | None = None,
    udr: bool = False,
    udr_samples: int = 500,
    seed: int = 0,
    budget: bool = True,
) -> None:
    """Print how the ranking's search ended (the budget too, if ``budget``: `rank
    --quiet` leaves it out with the progress) on stderr, then run
    :func:`~modelcentrality.report.report_ranking` and print its lines."""
    for note in ranking_notes(result, budget=budget):
        click.echo(printable(note), err=True)
    outcome = report_ranking(
        result,
        models,
        report_dir=report_dir,
        ground_truth=ground_truth,
        udr=udr,
        udr_samples=udr_samples,
        random_state=seed,
    )
    for warning in outcome.warnings:
        click.echo(printable(f"warning: {warning}"), err=True)
    for line in outcome.lines:
        click.echo(printable(line))
    if outcome.path is not None:
        click.echo(printable(f"wrote report {outcome.path}"), err=True)


@click.command("report")
@click.argument("ranking", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("zoo", type=click.Path(path_type=Path))
@_report_option(
    "-o", "--output", "report_dir", type=click.Path(path_type=Path), required=True,
    check=_check_report_dir, help="Folder for index.html.",
)
@_report_option(
    "--ground-truth",
    type=click.Path(path_type=Path),
    check=_read_truth,
    help="train-zoo manifest.json or `evaluate -o` JSON with ground-truth scores.",
)
@_report_option("--udr", is_flag=True, help="Add UDR (Lasso) scores on dSprites observations.")
@_report_option(
    "--udr-samples",
    type=POSITIVE,
    default=500,
    show_default=True,
    help="Observations each model encodes for --udr.",
)
def report_command(ranking, zoo, report):
    """Write the HTML report of an existing `rank -o` RANKING of the models in ZOO."""
    result = RankResult.from_json(ranking)
    models = load_zoo(zoo, skip_bad=True)
    missing = sorted(set(result.names) - {m.name for m in models})
    if missing:
        click.echo(printable(f"no usable model in {zoo} for: {', '.join(missing)}"), err=True)
    report_outcome(result, models, seed=result.seed, **report)
