"""Output helpers every command shares: aligned tables, JSON, and errors on stderr."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import orjson
import typer

from tocsin.client import ApiError, Client

T = TypeVar("T")


def print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in [headers, *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def me(given: str = "") -> str:
    """Who is acting, for audit trails and silences: ``given``, else the login name (as
    amtool's silence author), else ``tocsin`` (a container user may have none)."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "tocsin"


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_label_args(args: Sequence[str], first_is_alertname: bool = False) -> dict[str, str]:
    """``name=value`` arguments; amtool-style, a bare first word is the alertname."""
    labels: dict[str, str] = {}
    for i, arg in enumerate(args):
        if "=" not in arg:
            if i == 0 and first_is_alertname:
                labels["alertname"] = arg
                continue
            raise typer.BadParameter(f"{arg!r} is not of the form name=value")
        name, _, value = arg.partition("=")
        labels[name.strip()] = value.strip().strip('"')
    return labels


def out(found: T, as_json: bool, text: Callable[[T], None]) -> None:
    """What a command found: as JSON with --json, else as ``text`` prints it."""
    if as_json:
        print_json(found)
    else:
        text(found)


def ask(url: str, call: Callable[[Client], T]) -> T:
    """``call`` on a client of the server at ``url``; its refusal fails the command."""
    try:
        with Client(url) as client:
            return call(client)
    except (ApiError, OSError) as exc:
        fail(str(exc))
