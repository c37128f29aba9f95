"""``modelcentrality udr``: rank a zoo by the UDR baseline (Duan et al.) on real observations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ..baselines import METHODS, udr_for_models
from ..datasets import get_dataset
from ..errors import printable
from ..io import load_zoo
from .common import (
    POSITIVE,
    SEED,
    UDR_SAMPLES,
    batch_size_option,
    data_option,
    echo_skipped,
    follow_symlinks_option,
    format_table,
    output_option,
    skip_bad_option,
    threads_option,
)


@click.command("udr")
@click.argument("zoo", type=click.Path(path_type=Path))
@data_option
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="lasso",
    show_default=True,
    help="Similarity of two models' dims: Lasso coefficients or Spearman correlations.",
)
@click.option(
    "--samples",
    type=UDR_SAMPLES,
    default=1000,
    show_default=True,
    help="Observations every model encodes.",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option(
    "--alpha",
    type=click.FloatRange(min=0, min_open=True),
    default=0.1,
    show_default=True,
    help="Lasso penalty.",
)
@click.option("--jobs", type=POSITIVE, default=1, show_default=True, help="Parallel Lasso fits.")
@output_option
@threads_option
@batch_size_option
@skip_bad_option
@follow_symlinks_option
@click.option(
    "--quiet", is_flag=True, help="No progress (the plan, an estimate, then count, rate, ETA)."
)
def udr_command(
    zoo,
    data_spec,
    method,
    samples,
    seed,
    alpha,
    jobs,
    output,
    threads,
    batch_size,
    skip_bad,
    follow_symlinks,
    quiet,
):
    """Rank the models in ZOO by UDR (disentanglement_lib semantics).

    Every model encodes the same --samples observations of the dataset; a model's score is
    the median similarity of its representation to the others'. VAEs with a log-variance
    output keep dims with mean KL >= 0.01; GANs keep code dims with non-zero spread.
    Prints a table (rank, model, UDR); with -o also writes JSON with every score, the
    pairwise matrix, the informative dims, method, samples, seed and version.
    """
    dataset = get_dataset(data_spec)
    models = load_zoo(
        zoo,
        skip_bad=skip_bad,
        batch_size=batch_size,
        threads=threads,
        follow_symlinks=follow_symlinks,
    )
    result = udr_for_models(
        models,
        dataset.sample_observations(samples, seed),
        method=method,
        random_state=seed,
        batch_size=batch_size,
        alpha=alpha,
        n_jobs=jobs,
        skip_bad=skip_bad,
        progress=not quiet,
        settings={
            "dataset": {"spec": data_spec, "name": dataset.name},
            "samples": samples,
            "seed": seed,
        },
    )
    result = replace(result, skipped={**models.skipped, **result.skipped})
    echo_skipped(result.skipped)
    names = result.names
    rows = [(rank, names[i], float(result.scores[i])) for rank, i in enumerate(result.ranking(), 1)]
    click.echo(format_table(["rank", "model", f"UDR ({method})"], rows))
    click.echo(f"informative dims: {result.informative_rule}", err=True)
    if output is not None:
        result.to_json(output)
        click.echo(printable(f"wrote {output}"), err=True)
