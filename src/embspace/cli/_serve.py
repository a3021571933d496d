"""`embspace serve`: the local web explorer over one or more spaces."""

from __future__ import annotations

import warnings

import click


@click.command("serve")
@click.argument("space_paths", metavar="SPACE [SPACE ...]", nargs=-1, required=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback lets others on the network read the spaces.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port (0 picks a free one)."
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Another host name the browser may use to reach the server (repeatable).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser.")
def serve(space_paths, host, port, allow_hosts, open_browser):
    """Explore spaces in the browser: maps, true neighbours, analogies, comparisons.

    The page draws each space's cached maps (make them with `embspace map`, or from the page),
    finds the exact nearest neighbours of any point in the original space, and shows which of
    them the map keeps close. With two spaces that share ids it compares their neighbourhoods.

    \b
    Examples:
      embspace serve glove.space
      embspace serve glove.space my-words.space --port 9000
      embspace serve glove.space --host 0.0.0.0 --allow-host myhost.local
    """
    from ..explore import serve as run

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        def echo(line: str) -> None:
            for w in caught:
                click.echo(f"warning: {w.message}", err=True)
            caught.clear()
            click.echo(line)
            if open_browser:
                import webbrowser

                webbrowser.open(line.split()[3])

        run(list(space_paths), host=host, port=port, extra_hosts=allow_hosts, echo=echo)


COMMANDS = [serve]
