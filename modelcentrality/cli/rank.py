"""``modelcentrality rank``: rank a zoo folder by ModelCentrality."""

from __future__ import annotations

from pathlib import Path

import click

from ..engine import PROTOCOLS
from ..errors import ParameterError
from ..execution import make_backend
from ..io import load_zoo
from ..selection import rank
from .common import (
    POSITIVE,
    batch_size_option,
    echo_skipped,
    format_table,
    output_option,
    skip_bad_option,
    threads_option,
)


@click.command("rank")
@click.argument("zoo", type=click.Path(path_type=Path))
@output_option
@click.option(
    "--protocol",
    type=click.Choice(sorted(PROTOCOLS)),
    default="paper",
    show_default=True,
    help="FactorVAE protocol: 'paper' (InfoGAN-CR code) or 'disentanglement_lib'.",
)
@click.option("--votes", type=POSITIVE, help="Votes M per model (default: protocol's).")
@click.option("--group-size", type=click.IntRange(min=2), help="Observations L per vote.")
@click.option("--scale-samples", type=click.IntRange(min=2), help="Scale-set size S.")
@click.option(
    "--scale-from-groups",
    is_flag=True,
    help="Estimate each encoder's scale from the vote groups' own observations instead "
    "of a separate scale set (no scale-set passes; not the paper's estimate, see "
    "docs/gpu.md).",
)
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="Where the networks run: 'cpu' (ONNX Runtime) or 'cuda[:N]' (through PyTorch, "
    "pip install 'modelcentrality[gpu]', or onnxruntime-gpu).",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16"]),
    default="float32",
    show_default=True,
    help="Encoder compute precision; bfloat16 runs the graphs through PyTorch (fast on "
    "GPUs, slow on most CPUs). Vote statistics stay float64.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@threads_option
@batch_size_option
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    help="Cache finished pairs here: a rerun resumes, a grown zoo computes only new pairs.",
)
@click.option(
    "--precision",
    type=click.FloatRange(min=0, min_open=True),
    help="Precision-targeted mode: choose votes per pair (and S) so that every "
    "centrality's bootstrap standard error is at most this, e.g. 0.005; --votes caps it.",
)
@click.option(
    "--refine-top/--no-refine-top",
    default=True,
    show_default=True,
    help="With --precision, also spend votes where they decide the top of the ranking.",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Bootstrap replicates for the 95% intervals and p_top (0: none).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where the cross-evaluation runs: this machine, or Ray tasks (pip install ray).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Local backend: source models evaluated at once in worker processes "
    "(0: one per CPU; 1: in this process). --threads then sets threads per worker "
    "(default: CPUs / jobs).",
)
@click.option(
    "--address",
    help="Ray cluster to join ('auto': the one `ray start` runs on this node). "
    "Default: start Ray on this machine.",
)
@click.option(
    "--ray-load",
    type=click.Choice(["path", "bytes"]),
    help="How Ray workers get the ONNX files: 'path' (the zoo is on a filesystem shared by "
    "all nodes; default) or 'bytes' (shipped through Ray's object store).",
)
@skip_bad_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rank_command(
    zoo,
    output,
    protocol,
    votes,
    group_size,
    scale_samples,
    scale_from_groups,
    device,
    dtype,
    seed,
    threads,
    batch_size,
    cache_dir,
    precision,
    refine_top,
    bootstrap,
    backend,
    jobs,
    address,
    ray_load,
    skip_bad,
    quiet,
):
    """Rank the models in ZOO (one sub-folder per model) by ModelCentrality.

    Prints a table best first: rank, name, centrality, its bootstrap 95% interval,
    p_top (probability of being the most central model) and self-consistency. With -o
    also writes JSON with names, scores, scores_ci, p_top, ranking, cross, similarity,
    protocol, seed, version and the skipped models.

    With --jobs N (or --backend ray), each model's row of the cross matrix is one task
    for a worker process (a Ray task); --threads then sets the threads per worker. The
    result is the same as the single-process run's.
    """
    try:
        runner = make_backend(
            backend, n_jobs=jobs, threads=threads, address=address, ray_load=ray_load
        )
    except ParameterError as exc:
        raise click.UsageError(str(exc)) from None
    models = load_zoo(
        zoo,
        skip_bad=skip_bad,
        batch_size=batch_size,
        threads=threads,
        device=device,
        dtype=None if dtype == "float32" else dtype,
    )
    with runner:
        result = rank(
            models,
            protocol,
            seed,
            votes=votes,
            group_size=group_size,
            scale_samples=scale_samples,
            scale_from_groups=scale_from_groups,
            precision=precision,
            refine_top=refine_top,
            skip_bad=skip_bad,
            cache_dir=cache_dir,
            progress=False if quiet else None,
            bootstrap=bootstrap,
            backend=runner,
        )
    echo_skipped(result.skipped)
    self_consistency = result.self_consistency
    headers = ["rank", "name", "centrality"]
    if result.uncertainty is not None:
        headers += ["95% interval", "p_top"]
    headers.append("self-consistency")
    rows = []
    for place, i in enumerate(result.order, start=1):
        row = [place, result.names[i], float(result.scores[i])]
        if result.uncertainty is not None:
            low, high = result.scores_ci[i]
            row += [f"{low:.4f}-{high:.4f}", f"{result.p_top[i]:.3f}"]
        rows.append([*row, float(self_consistency[i])])
    click.echo(format_table(headers, rows))
    if output is not None:
        result.to_json(output)
        click.echo(f"wrote {output}", err=True)
