"""``modelcentrality udr``: rank a zoo by the UDR baseline (Duan et al.) on real observations."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from ..datasets import get_dataset
from ..errors import ModelCentralityError, ZooError
from ..files import write_json
from ..udr import METHODS, encode_representation, udr_scores
from .common import (
    POSITIVE,
    batch_size_option,
    data_option,
    echo_skipped,
    format_table,
    load_zoo_for_dataset,
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
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Observations every model encodes.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
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
def udr_command(
    zoo, data_spec, method, samples, seed, alpha, jobs, output, threads, batch_size, skip_bad
):
    """Rank the models in ZOO by UDR (disentanglement_lib semantics).

    Every model encodes the same --samples observations of the dataset; a model's score is
    the median similarity of its representation to the others'. VAEs with a log-variance
    output keep dims with mean KL >= 0.01; GANs keep code dims with non-zero spread.
    Prints a table (rank, model, UDR); with -o also writes JSON with every score, the
    pairwise matrix, the informative dims, method, samples, seed and version.
    """
    dataset = get_dataset(data_spec)
    models, skipped = load_zoo_for_dataset(
        zoo, dataset, data_spec, skip_bad=skip_bad, batch_size=batch_size, threads=threads
    )
    observations = dataset.sample_observations(samples, seed)
    names, reps, kls = [], [], []
    for model in models:
        try:
            codes, kl = encode_representation(model, observations, batch_size)
        except ModelCentralityError as exc:
            if not skip_bad:
                raise
            skipped[getattr(exc, "model", model.name)] = getattr(exc, "problem", str(exc))
            continue
        names.append(model.name)
        reps.append(codes)
        kls.append(kl)
    echo_skipped(skipped)
    if len(names) < 2:
        raise ZooError(f"UDR needs at least 2 usable models in {zoo}, got {len(names)}")
    result = udr_scores(
        reps, kls, method=method, random_state=seed, alpha=alpha, n_jobs=jobs, names=names
    )
    rows = [(rank, names[i], float(result.scores[i])) for rank, i in enumerate(result.ranking(), 1)]
    click.echo(format_table(["rank", "model", f"UDR ({method})"], rows))
    click.echo(f"informative dims: {result.informative_rule}", err=True)
    if output is not None:
        write_json(
            output,
            {
                "version": __version__,
                "dataset": {"spec": data_spec, "name": dataset.name},
                "samples": samples,
                "seed": seed,
                **result.to_dict(),
                "skipped": skipped,
            },
        )
        click.echo(f"wrote {output}", err=True)
