"""The ``modelcentrality`` command line: a thin layer over the Python API.

Every known failure (bad model files, bad options, too few models...) is reported as one
line on stderr with a non-zero exit status, never as a traceback.
"""

from __future__ import annotations

import sys

import click

from .._version import __version__
from ..errors import ModelCentralityError, ZooError, printable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="modelcentrality")
def cli() -> None:
    """Unsupervised model selection of disentangled generative models.

    Rank a zoo of exported models by ModelCentrality, compare with UDR, evaluate with
    supervised metrics on dSprites, and train reference InfoGAN-CR / VAE models.
    """


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit status."""
    try:
        cli.main(args=argv, prog_name="modelcentrality", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("modelcentrality: interrupted", err=True)
        return 130
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "modelcentrality"
        click.echo(printable(f"{command}: error: {exc.format_message()} (see --help)"), err=True)
        return 2
    except click.ClickException as exc:
        click.echo(printable(f"modelcentrality: error: {exc.format_message()}"), err=True)
        return exc.exit_code
    except ZooError as exc:
        # The reasons first, one line each, so that the error ends the output.
        for name, reason in exc.skipped.items():
            click.echo(printable(f"skipped model '{name}': {reason}"), err=True)
        click.echo(printable(f"modelcentrality: error: {exc.summary}"), err=True)
        return 1
    except ModelCentralityError as exc:
        click.echo(printable(f"modelcentrality: error: {exc}"), err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("modelcentrality: interrupted", err=True)
        return 130
    return 0


def _register() -> None:
    from .evaluate import evaluate_command
    from .half import half_weights_command
    from .inspect import inspect_command
    from .rank import rank_command
    from .report import report_command
    from .synthetic import synthetic_command
    from .train import train_command, train_zoo_command
    from .udr import udr_command

    for command in (
        rank_command,
        report_command,
        inspect_command,
        synthetic_command,
        evaluate_command,
        udr_command,
        train_command,
        train_zoo_command,
        half_weights_command,
    ):
        cli.add_command(command)


_register()

if __name__ == "__main__":
    sys.exit(main())
