"""``modelcentrality report`` and what ``rank`` prints and writes after a ranking:
the search's stop reason, ground truth, UDR and the HTML report."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ..contract import Model
from ..errors import ModelCentralityError
from ..io import load_zoo
from ..report import GroundTruth, read_ground_truth, write_report
from ..report._figures import pyplot
from ..report._html import budget_text, certainty_banner, protocol_name
from .common import POSITIVE


def _check_matplotlib(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        pyplot()
    return value


def _read_truth(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    return None if value is None else read_ground_truth(value)


def report_options(command: Callable) -> Callable:
    """--report, --ground-truth, --udr and --udr-samples (read and checked before the run)."""
    options = [
        click.option(
            "--report",
            "report_dir",
            type=click.Path(path_type=Path),
            callback=_check_matplotlib,
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
        click.echo(f"search stopped: {search['stop_reason']}", err=True)
        if not search.get("target_reached", True):
            click.echo("warning: the search's target was not reached", err=True)
    if budget:
        click.echo(f"budget: {budget_text(data)}", err=True)
    banner = certainty_banner(data)
    if banner:
        click.echo(f"warning: {banner}", err=True)
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
            click.echo(f"warning: no UDR on dSprites: {exc}", err=True)
        else:
            ranking = ", ".join(udr_result.names[i] for i in udr_result.ranking())
            click.echo(f"UDR (lasso), best first: {ranking}")
    if ground_truth is not None:
        for warning in ground_truth.warnings(protocol_name(data)):
            click.echo(f"warning: {warning}", err=True)
        summary = ground_truth.compare(data["names"], _scores(data["scores"]))
        if not summary["models"]:
            click.echo(f"ground truth: no ranked model is scored in {ground_truth.source}")
        else:
            tau = summary["kendall_tau"]
            click.echo(
                f"ground truth ({summary['models']} models, FactorVAE, "
                f"{ground_truth.version or 'no dataset version'}): Kendall tau "
                f"{'n/a' if tau is None else f'{tau:.2f}'}; pick {summary['pick']} "
                f"{summary['pick_score']:.3f}, best {summary['best']} "
                f"{summary['best_score']:.3f}"
            )
    if report_dir is not None:
        path = write_report(result, models, report_dir, udr=udr_result, ground_truth=ground_truth)
        click.echo(f"wrote report {path}", err=True)


def _scores(values: list) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def _ranking_problem(data: object) -> str | None:
    """What makes ``data`` unusable as a `rank -o` result, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    lacking = [k for k in ("names", "scores", "similarity", "self_consistency") if k not in data]
    if lacking:
        return f"no {', '.join(lacking)}"
    names = data["names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "names must be a list of model names"
    n = len(names)
    for key in ("scores", "self_consistency"):
        values = data[key]
        if not isinstance(values, list) or len(values) != n:
            return f"{key} must list {n} values"
    matrix = data["similarity"]
    if not isinstance(matrix, list) or len(matrix) != n or not all(
        isinstance(row, list) and len(row) == n for row in matrix
    ):
        return f"similarity must be a {n} x {n} matrix"
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return "seed must be an integer"
    return None


@click.command("report")
@click.argument("ranking", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("zoo", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", "report_dir", type=click.Path(path_type=Path), required=True,
    callback=_check_matplotlib, help="Folder for index.html.",
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
    try:
        data = json.loads(ranking.read_text())
    except (OSError, ValueError) as exc:
        raise ModelCentralityError(f"cannot read {ranking}: {exc}") from None
    problem = _ranking_problem(data)
    if problem:
        raise ModelCentralityError(f"{ranking} is not a `rank -o` result: {problem}")
    names, seed = data["names"], int(data.get("seed") or 0)
    models = load_zoo(zoo, skip_bad=True)
    missing = sorted(set(names) - {m.name for m in models})
    if missing:
        click.echo(f"no usable model in {zoo} for: {', '.join(missing)}", err=True)
    report_outcome(
        data,
        models,
        report_dir=report_dir,
        ground_truth=ground_truth,
        udr=udr,
        udr_samples=udr_samples,
        seed=seed,
    )
