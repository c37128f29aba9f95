"""``modelcentrality rank``: rank a zoo folder by ModelCentrality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..engine import PROTOCOLS, SIMILARITIES
from ..errors import ParameterError, printable
from ..execution import BACKENDS, make_backend
from ..io import load_zoo
from ..selection import SEARCHES, SearchStrategy, make_search, options_from_text, rank
from .common import (
    GROUP_SIZE,
    POSITIVE,
    SCALE_SAMPLES,
    SEED,
    AliasedOption,
    FiniteFloatRange,
    batch_size_option,
    check_output_folder,
    echo_skipped,
    follow_symlinks_option,
    format_table,
    output_option,
    skip_bad_option,
    threads_option,
)
from .report import report_options, report_outcome


def _key_values(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """Click callback: KEY=VALUE texts as a dict (a key given twice is refused)."""
    pairs: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{printable(text)!r} is not KEY=VALUE", ctx, param)
        if key in pairs:
            raise click.BadParameter(f"{printable(key)} is given twice", ctx, param)
        pairs[key] = value
    return pairs


def _make_search(name: str, texts: dict[str, str], **options: Any) -> SearchStrategy:
    """The strategy ``name`` from its options: those of their own flags (None: not
    given) and ``--search-option`` texts, typed by the strategy's constructor."""
    given = {key for key, value in options.items() if value is not None}
    twice = sorted(given & set(texts))
    if twice:
        raise ParameterError(
            f"{', '.join(twice)} is given both as its own option and as --search-option"
        )
    if name in SEARCHES:  # an unknown name is make_search's error
        options.update(options_from_text(SEARCHES[name], texts, f"search {name!r}"))
    return make_search(name, **options)


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
@click.option(
    "--similarity",
    type=click.Choice(sorted(SIMILARITIES)),
    default="factorvae",
    show_default=True,
    help="What a cross cell measures (a registered similarity). One whose cells cannot "
    "be resampled needs --n-boot 0 and the full search.",
)
@click.option(
    "--votes",
    type=POSITIVE,
    help="Votes M per model (default: protocol's). Below the protocol's, the scale set "
    "follows: S = 20 per vote, at least 2,000 (unless --scale-samples).",
)
@click.option("--group-size", type=GROUP_SIZE, help="Observations L per vote.")
@click.option(
    "--scale-samples",
    type=SCALE_SAMPLES,
    help="Scale-set size S (default: the protocol's, or 20 per vote below its votes).",
)
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
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@threads_option
@batch_size_option
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    callback=check_output_folder,
    help="Cache finished pairs here: a rerun resumes, a grown zoo computes only new pairs.",
)
@click.option(
    "--precision",
    type=FiniteFloatRange(min=0, min_open=True),
    help="Precision search: choose votes per pair (and S) so that every centrality's "
    "bootstrap standard error is at most this, e.g. 0.005; --votes caps it.",
)
@click.option(
    "--refine-top/--no-refine-top",
    default=None,
    help="Precision search: also spend votes where they decide the top of the ranking "
    "(default: on).",
)
@click.option(
    "--search",
    "search_name",
    type=click.Choice(sorted(SEARCHES)),
    help="Which pairs to evaluate (default: 'precision' with --precision, else 'full'). "
    "'adaptive': find the most central model(s) from a sample of pairs; plugins add more.",
)
@click.option(
    "--top-k",
    "--top",
    "top_k",
    cls=AliasedOption,
    aliases=["--top"],
    type=POSITIVE,
    help="Adaptive search: how many top models to find (default 1).",
)
@click.option("--max-pairs", type=POSITIVE, help="Adaptive search: budget of pair evaluations.")
@click.option(
    "--target",
    type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
    help="Adaptive search: stop when the leader's p_top reaches this (default 0.95).",
)
@click.option(
    "--search-option",
    "search_options",
    multiple=True,
    callback=_key_values,
    metavar="KEY=VALUE",
    help="Any other option of the search strategy (repeatable), e.g. "
    "'--search-option max_passes=100000' for the precision search, or an option of a "
    "registered plugin search; converted to the type its constructor declares.",
)
@click.option(
    "--n-boot",
    "--bootstrap",
    "n_boot",
    cls=AliasedOption,
    aliases=["--bootstrap"],
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Bootstrap replicates for the 95% intervals and p_top (0: none).",
)
@click.option(
    "--backend",
    type=click.Choice(sorted(BACKENDS)),
    default="local",
    show_default=True,
    help="Where the cross-evaluation runs: this machine, Ray tasks (pip install ray), or a "
    "registered plugin backend.",
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
@follow_symlinks_option
@report_options
@click.option(
    "--quiet",
    is_flag=True,
    help="No progress (each round's plan and estimated time, then a bar on a terminal or "
    "a line every 15 s in a log) and no budget line after the table.",
)
def rank_command(
    zoo,
    output,
    protocol,
    similarity,
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
    search_name,
    top_k,
    max_pairs,
    target,
    search_options,
    n_boot,
    backend,
    jobs,
    address,
    ray_load,
    skip_bad,
    follow_symlinks,
    report,
    quiet,
):
    """Rank the models in ZOO (one sub-folder per model) by ModelCentrality.

    Prints a table best first: rank, name, centrality, its bootstrap 95% interval,
    p_top (probability of being the most central model) and self-consistency. With -o
    also writes JSON with names, scores, scores_ci, p_top, ranking, cross, similarity
    (the matrix), similarity_measure (--similarity), protocol, seed, version and the
    skipped models. --report DIR adds an HTML page with
    the similarity heatmap and latent traversals; --ground-truth compares with known
    scores. After the table: the budget actually spent (votes per pair, S, L, encoder
    passes computed and cached), the search's stop reason, and a warning naming the
    contenders when the leader's p_top is below 0.95.

    With --jobs N (or --backend ray), each model's row of the cross matrix is one task
    for a worker process (a Ray task); --threads then sets the threads per worker. The
    result is the same as the single-process run's.
    """
    try:
        search = _make_search(
            search_name or ("precision" if precision is not None else "full"),
            search_options,
            precision=precision,
            refine_top=refine_top,
            top_k=top_k,
            max_pairs=max_pairs,
            target=target,
        )
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
        follow_symlinks=follow_symlinks,
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
            search=search,
            scale_from_groups=scale_from_groups,
            skip_bad=skip_bad,
            cache_dir=cache_dir,
            progress=not quiet,
            n_boot=n_boot,
            backend=runner,
            similarity=similarity,
        )
    echo_skipped(result.skipped)
    click.echo(format_table(*result.summary_table()))
    if output is not None:
        result.to_json(output)
        click.echo(printable(f"wrote {output}"), err=True)
    report_outcome(result, models, seed=seed, budget=not quiet, **report)
