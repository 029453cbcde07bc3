"""The ``univec`` command line: ``index``, ``search``, ``encode``, ``download`` and ``serve``.

Each command takes the encoder options (``--backend local|api``, ``--model``, ``--device``,
... or the ``UNIVEC_*`` environment), so the same commands run on this machine, against the
hosted Jina API, or against a ``univec serve`` elsewhere. Heavy modules (torch, the
databases, the web server) are imported only by the command that needs them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import click

from univec import __version__
from univec.errors import UnivecError

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Show a :class:`UnivecError` as ``Error: <message>`` (exit status 1), not a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UnivecError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="univec")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
def main(verbose: int) -> None:
    """univec: jina-embeddings-v4 from the command line.

    \b
      univec index ./docs -c docs        keep a collection in sync with a folder
      univec search "query" -c docs      search it
      univec encode texts.txt --out v.npy
      univec serve --port 8080           serve the model over HTTP (Jina API contract)
      univec download --to ./jev4        fetch the checkpoint for offline use
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from univec.cli.commands import download, encode, index, search, serve

    for command in (index, search, encode, download, serve):
        main.add_command(command)


_register()
