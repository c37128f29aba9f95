"""``modelcentrality evaluate``: supervised disentanglement metrics of a zoo on a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from ..datasets import get_dataset
from ..engine import PROTOCOLS
from ..errors import printable
from ..io import load_zoo
from ..metrics import METRIC_INFO, check_metric_names, evaluate_zoo, metric_settings
from ..metrics.dci import PREDICTORS
from .common import (
    POSITIVE,
    SEED,
    AliasedOption,
    FiniteFloatRange,
    batch_size_option,
    data_option,
    echo_skipped,
    follow_symlinks_option,
    format_table,
    output_option,
    skip_bad_option,
    threads_option,
)

#: --sample-multiplier: above 0, at most 10 (a larger run is a setting, not a multiplier).
SAMPLE_MULTIPLIER = FiniteFloatRange(min=0, min_open=True, max=10)


def _parse_metrics(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    try:
        return check_metric_names(names)
    except ValueError:
        raise click.BadParameter(
            f"unknown or missing metric in {value!r}; known metrics: {', '.join(METRIC_INFO)}"
        ) from None


def _columns(metrics: list[str]) -> list[tuple[str, str, str]]:
    """(column label, metric, result key) of the summary table."""
    columns = []
    for name in metrics:
        keys = METRIC_INFO[name].headline
        columns += [(name if len(keys) == 1 else f"{name}.{key}", name, key) for key in keys]
    return columns


@click.command("evaluate")
@click.argument("zoo", type=click.Path(path_type=Path))
@data_option
@click.option(
    "--metrics",
    default=",".join(METRIC_INFO),
    show_default=True,
    callback=_parse_metrics,
    help="Comma-separated metrics to compute.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option(
    "--sample-multiplier",
    "--samples-scale",
    "sample_multiplier",
    cls=AliasedOption,
    aliases=["--samples-scale"],
    type=SAMPLE_MULTIPLIER,
    default=1.0,
    show_default=True,
    help="Multiply every sample count (e.g. 0.1 for a quick run).",
)
@click.option(
    "--factorvae-protocol",
    type=click.Choice(sorted(PROTOCOLS)),
    default="paper",
    show_default=True,
    help="FactorVAE metric protocol: 'paper' (as `rank` and train-zoo's ground truth "
    "use) or 'disentanglement_lib' (the Python API's default).",
)
@click.option(
    "--dci-predictor",
    type=click.Choice(PREDICTORS),
    default="gbt",
    show_default=True,
    help="DCI classifiers: disentanglement_lib's gradient boosted trees, or faster random "
    "forests (different numbers).",
)
@click.option("--jobs", type=POSITIVE, default=1, show_default=True, help="Parallel DCI fits.")
@output_option
@threads_option
@batch_size_option
@skip_bad_option
@follow_symlinks_option
@click.option("--quiet", is_flag=True, help="No progress lines.")
def evaluate_command(
    zoo,
    data_spec,
    metrics,
    seed,
    sample_multiplier,
    factorvae_protocol,
    dci_predictor,
    jobs,
    output,
    threads,
    batch_size,
    skip_bad,
    follow_symlinks,
    quiet,
):
    """Score every model in ZOO with supervised disentanglement metrics on a dataset.

    Each model's encoder is the representation; defaults are disentanglement_lib's,
    except the FactorVAE metric's protocol: the paper's, as `rank` uses, so that an
    `evaluate -o` file is a ground truth on the same scale (--factorvae-protocol
    disentanglement_lib for disentanglement_lib's). Prints a table (model x metric);
    with -o also writes JSON with every score, the dataset, seed, metric settings,
    version and the skipped models. Progress (unless --quiet): the planned observations,
    lines with count, rate and ETA naming the model and metric, and after the first
    model an estimate of the whole run.
    """
    overrides = {}
    if "factorvae" in metrics:
        overrides["factorvae"] = {"protocol": factorvae_protocol}
    if "dci" in metrics:
        overrides["dci"] = {"predictor": dci_predictor, "n_jobs": jobs}
    settings = metric_settings(metrics, sample_multiplier, overrides)
    dataset = get_dataset(data_spec)
    models = load_zoo(
        zoo,
        skip_bad=skip_bad,
        batch_size=batch_size,
        threads=threads,
        follow_symlinks=follow_symlinks,
    )

    def report(position: int, total: int, name: str, seconds: float | None) -> None:
        if quiet:
            return
        if seconds is None:
            click.echo(printable(f"[{position}/{total}] {name}"), err=True)
        else:
            click.echo(f"  done in {seconds:.1f} s", err=True)

    evaluation = evaluate_zoo(
        models,
        dataset,
        metrics,
        seed,
        settings=settings,
        skip_bad=skip_bad,
        on_model=report,
        record={
            "dataset": {"spec": data_spec, "name": dataset.name},
            # The file format's name for the multiplier.
            "samples_scale": sample_multiplier,
        },
        progress=not quiet,
    )
    evaluation.skipped = {**models.skipped, **evaluation.skipped}
    echo_skipped(evaluation.skipped)
    results = evaluation.results
    columns = _columns(metrics)
    rows = [
        (name, *(float(scores[metric][key]) for _, metric, key in columns))
        for name, scores in results.items()
    ]
    click.echo(format_table(["model", *(label for label, _, _ in columns)], rows))
    for name, scores in results.items():
        if scores.get("factorvae", {}).get("n_active_dims") == 0:
            click.echo(
                f"note: {name}: factorvae is 0 because no dim was active (every code "
                "constant over the scale set, or pruned below the protocol's spread)",
                err=True,
            )
    if output is not None:
        evaluation.to_json(output)
        click.echo(printable(f"wrote {output}"), err=True)
