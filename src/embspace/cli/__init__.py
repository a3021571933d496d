"""`embspace <verb>`: the command line. One module per verb group; errors are one line, exit 1."""

from __future__ import annotations

import contextlib
import sys
import warnings

import click

from .._progress import enable as _enable_progress
from .._spelling import cli_spelling
from .._version import __version__
from ..errors import EmbspaceError, SpaceNote


class _Group(click.Group):
    """Turns a user mistake into one line on stderr and a non-zero exit, never a traceback.

    Messages are spelled for the command line (``--meta PATH``, not ``meta=PATH``; see _spelling).
    """

    def invoke(self, ctx: click.Context):
        try:
            with cli_spelling(), _notes():
                return super().invoke(ctx)
        except EmbspaceError as exc:
            raise click.ClickException(str(exc)) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            raise click.ClickException(f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")) from None
        except MemoryError as exc:  # a size no range check could foresee (a corpus's vocabulary × --dim)
            detail = str(exc).splitlines()[-1][:200] if str(exc) else "out of memory"
            raise click.ClickException(
                f"not enough memory: {detail}; choose smaller sizes (--dim, --sample, ...)"
            ) from None
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was written", err=True)
            sys.exit(130)


@contextlib.contextmanager
def _notes():
    """Notes about a space (SpaceNote warnings) are printed as ``note: ...`` lines on stderr."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SpaceNote):
            click.echo(f"note: {message}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="embspace")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def main(quiet: bool) -> None:
    """embspace: build, search, measure and explore embedding spaces.

    \b
    Examples:
      embspace demo --no-serve       # GloVe 6B 50d, left here as the link glove.space
      embspace neighbors glove.space king -k 5
      embspace analogy glove.space man king woman
      embspace evaluate glove.space
    """
    _enable_progress(not quiet)


def _quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _enable_progress(False)


def _accept_quiet(command: click.Command) -> None:
    """Let `-q` follow the verb too (`embspace neighbors x.space king -q`), in every command and group."""
    if not any("-q" in p.opts for p in command.params):
        command.params.append(
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_quiet, help="No progress bars.")
        )
    for sub in getattr(command, "commands", {}).values():
        _accept_quiet(sub)


def _register() -> None:
    from . import _align, _build, _demo, _evaluate, _io, _items, _map, _search, _serve, _texts, _transfer, _tune

    for module in (_io, _search, _evaluate, _build, _map, _serve, _demo, _texts, _items, _tune, _align, _transfer):
        for command in module.COMMANDS:
            main.add_command(command)
    for command in main.commands.values():
        _accept_quiet(command)


_register()
