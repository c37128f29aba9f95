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
    budget_text,
    certainty_banner,
    protocol_name,
    pyplot,
    read_ground_truth,
    write_report,
)
from ..selection import RankResult
from .common import POSITIVE


def _check_report_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    # Checked before the run, so that a long run never fails at its last step.
    if value is not None:
        pyplot()
        reason = unwritable_folder_reason(value, REPORT_FILE)
        if reason:
            raise click.BadParameter(f"{printable(str(value))}: {reason}", ctx, param)
    return value


def _read_truth(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    # Read before the run: an unusable file is a bad option value.
    try:
        return None if value is None else read_ground_truth(value)
    except ModelCentralityError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def report_options(command: Callable) -> Callable:
    """--report, --ground-truth, --udr and --udr-samples (read and checked before the run)."""
    options = [
        click.option(
            "--report",
            "report_dir",
            type=click.Path(path_type=Path),
            callback=_check_report_dir,
            help="Write an HTML report (ranking, similarity heatmap, traversals) into "
            "this folder: DIR/index.html, self-contained, opens offline.",
        ),
        click.option(
            "--ground-truth",
            type=click.Path(path_type=Path),
            callback=_read_truth,
            help="Compare with ground-truth FactorVAE / MIG scores from a train-zoo "
            "manifest.json or an `evaluate -o` JSON: Kendall tau, and the pick's score "
            "against the best model's. Warns when the scores were computed on other "
            "dSprites images than the current renderer's (recorded ground_truth_version).",
        ),
        click.option(
            "--udr",
            is_flag=True,
            help="Also score the zoo by UDR (Lasso) on dSprites observations and show it "
            "beside ModelCentrality (the models must produce 64x64 dSprites images).",
        ),
        click.option(
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
    """Print the search's stop reason (a warning when its target was not reached), the
    budget spent (if ``budget``; `rank --quiet` leaves it out with the progress), a
    warning when the leader is uncertain, and the ground-truth comparison on stderr;
    compute UDR and write the report if asked."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    search = data.get("search") or {}
    if search.get("name", "full") != "full" and search.get("stop_reason"):
        click.echo(printable(f"search stopped: {search['stop_reason']}"), err=True)
        if not search.get("target_reached", True):
            click.echo("warning: the search's target was not reached", err=True)
    if budget:
        click.echo(printable(f"budget: {budget_text(data)}"), err=True)
    banner = certainty_banner(data)
    if banner:
        click.echo(printable(f"warning: {banner}"), err=True)
    udr_result = None
    if udr:
        from ..baselines import udr_for_models
        from ..datasets import get_dataset

        dataset = get_dataset("dsprites")
        try:
            udr_result = udr_for_models(
                [m for m in models if m.name in set(data["names"])],
                dataset.sample_observations(udr_samples, seed),
                random_state=seed,
                progress=True,
            )
        except ModelCentralityError as exc:
            # The ranking is done (and saved): report it without UDR rather than not at all.
            click.echo(printable(f"warning: no UDR on dSprites: {exc}"), err=True)
        else:
            ranking = ", ".join(udr_result.names[i] for i in udr_result.ranking())
            click.echo(printable(f"UDR (lasso), best first: {ranking}"))
    if ground_truth is not None:
        for warning in ground_truth.warnings(protocol_name(data)):
            click.echo(printable(f"warning: {warning}"), err=True)
        summary = ground_truth.compare(data["names"], _scores(data["scores"]))
        if not summary["models"]:
            click.echo(
                printable(f"ground truth: no ranked model is scored in {ground_truth.source}")
            )
        else:
            tau = summary["kendall_tau"]
            click.echo(
                printable(
                    f"ground truth ({summary['models']} models, FactorVAE, "
                    f"{ground_truth.version or 'no dataset version'}): Kendall tau "
                    f"{'n/a' if tau is None else f'{tau:.2f}'}; pick {summary['pick']} "
                    f"{summary['pick_score']:.3f}, best {summary['best']} "
                    f"{summary['best_score']:.3f}"
                )
            )
    if report_dir is not None:
        path = write_report(result, models, report_dir, udr=udr_result, ground_truth=ground_truth)
        click.echo(printable(f"wrote report {path}"), err=True)


def _scores(values: list) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


@click.command("report")
@click.argument("ranking", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("zoo", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "report_dir", type=click.Path(path_type=Path), required=True,
    callback=_check_report_dir, help="Folder for index.html.",
)
@click.option(
    "--ground-truth",
    type=click.Path(path_type=Path),
    callback=_read_truth,
    help="train-zoo manifest.json or `evaluate -o` JSON with ground-truth scores.",
)
@click.option("--udr", is_flag=True, help="Add UDR (Lasso) scores on dSprites observations.")
@click.option(
    "--udr-samples",
    type=POSITIVE,
    default=500,
    show_default=True,
    help="Observations each model encodes for --udr.",
)
def report_command(ranking, zoo, report_dir, ground_truth, udr, udr_samples):
    """Write the HTML report of an existing `rank -o` RANKING of the models in ZOO."""
    result = RankResult.from_json(ranking)
    models = load_zoo(zoo, skip_bad=True)
    missing = sorted(set(result.names) - {m.name for m in models})
    if missing:
        click.echo(printable(f"no usable model in {zoo} for: {', '.join(missing)}"), err=True)
    report_outcome(
        result,
        models,
        report_dir=report_dir,
        ground_truth=ground_truth,
        udr=udr,
        udr_samples=udr_samples,
        seed=result.seed,
    )
