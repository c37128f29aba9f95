"""Old spellings of renamed options: hidden, and still working.

A renamed option keeps its old flag as a hidden option of its own (:func:`old_spelling`,
stored as ``old_<name>``); the command takes the value with :func:`renamed_value`, so
scripts written for the old flag keep their results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource


def old_spelling(flag: str, name: str, **attrs: Any) -> Callable:
    """A hidden option ``flag``: the old spelling of the option whose parameter is
    ``name`` (same type), stored as ``old_<name>``."""
    return click.option(
        flag, f"old_{name}", hidden=True, default=None, help=f"Old name of {name}.", **attrs
    )


def renamed_value(ctx: click.Context, name: str, required: bool = False) -> Any:
    """The value of option ``name``, or of its old spelling when that was given.

    Raises
    ------
    click.UsageError
        Both spellings given, or neither when ``required``.
    """
    options = {p.name: p for p in ctx.command.params}
    old = ctx.params[f"old_{name}"]
    if old is None:
        if required and ctx.params[name] is None:
            raise click.MissingParameter(ctx=ctx, param=options[name])
        return ctx.params[name]
    if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
        raise click.UsageError(
            f"give {options[name].opts[-1]} or its old name {options[f'old_{name}'].opts[0]}, "
            "not both",
            ctx=ctx,
        )
    return old
