"""The configuration as ``GET /api/v2/status`` shows it (``config.original``, which
``amtool config show`` prints and ``amtool config routes`` parses): the file as written,
with the value of every secret field (passwords, tokens, routing keys, Slack and Teams
webhook URLs: the fields typed :class:`~tocsin.config.decode.Secret`) replaced by
``<secret>``, as Alertmanager prints them, and the password in every other URL
(``proxy_url``, a webhook's ``url``, ``api_url``...: the fields typed as URLs) shown as
``xxxxx``, as Alertmanager prints a proxy's (Go's ``url.Redacted``; ``<secret>`` there
would make the URL one Alertmanager's loader refuses). The text stays the user's own
(comments, order, style); only those values go.

The values are found by where they are, not by what they say: each secret field's path
in the decoded configuration leads to its node in the file, and exactly that node's text
is replaced (a plain, quoted, flow or block scalar alike; an anchor before it is kept).
A scalar elsewhere that happens to equal a secret is left alone.

Tocsin's own keys (the ``tocsin:``, ``people:``, ``schedules:`` and
``escalation_policies:`` sections, a receiver's ``escalation_policy``) are shown
commented out (:func:`shown`): Alertmanager's loader, which ``amtool config routes``
parses ``config.original`` with, refuses a key it does not know, and a team that uses
Tocsin's on-call would otherwise lose ``amtool config routes test``. Commented rather
than dropped, so ``amtool config show`` still shows them, on the lines they are on in
the file."""

from __future__ import annotations

import dataclasses
import json
import logging
import types
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tocsin.config.common import SECRET_TOKEN, IsURL
from tocsin.config.decode import GoYAMLLoader, Secret, yaml_key
from tocsin.urls import MASKED_PASSWORD, masked_url

log = logging.getLogger(__name__)

Path = tuple[str | int, ...]
# Keys Alertmanager's configuration does not have: at the top level, and in a receiver.
TOCSIN_TOP_KEYS = frozenset({"tocsin", "people", "schedules", "escalation_policies"})
TOCSIN_RECEIVER_KEYS = frozenset({"escalation_policy"})
HIDDEN = "# the configuration could not be shown without its secrets; see the server log\n"


def secret_paths(value: Any, path: Path = ()) -> Iterator[Path]:
    """The path (keys and list indexes) of every non-empty Secret in a decoded tree,
    except fields marked ``SHOWN`` and fields not read from the file."""
    if isinstance(value, Secret):
        if value and value != SECRET_TOKEN:
            yield path
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.metadata.get("shown") or f.metadata.get("yaml") is False:
                continue
            yield from secret_paths(getattr(value, f.name), (*path, yaml_key(f.name)))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from secret_paths(item, (*path, str(key)))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from secret_paths(item, (*path, i))


def url_paths(value: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every URL field (typed as one: :class:`~tocsin.config.common.IsURL`)
    whose value has a password, except secrets (hidden whole) and fields not read from
    the file."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        urls = _url_fields(type(value))
        for f in dataclasses.fields(value):
            if f.metadata.get("yaml") is False:
                continue
            item, at = getattr(value, f.name), (*path, yaml_key(f.name))
            if f.name not in urls:
                yield from url_paths(item, at)
            elif _shown(item, f) and masked_url(item) is not None:
                yield at
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from url_paths(item, (*path, str(key)))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from url_paths(item, (*path, i))


def redacted(text: str, config: Any) -> str:
    """``text`` (the file ``config`` was decoded from) with its secrets' values hidden,
    and its URLs' passwords."""
    try:
        root = yaml.compose(text, Loader=GoYAMLLoader)  # a SafeLoader
        edits = {
            _span(text, node): _whole(text, _span(text, node), SECRET_TOKEN)
            for node in _nodes(root, secret_paths(config))
        }
        for node in _nodes(root, url_paths(config)):
            span = _span(text, node)
            edits.setdefault(span, _url_edit(text, span, node.value))
    except Exception:
        log.exception("the configuration could not be redacted")
        return HIDDEN
    for (start, end), new in sorted(edits.items(), reverse=True):
        text = f"{text[:start]}{new}{text[end:]}"
    return text


def _whole(text: str, span: tuple[int, int], value: str) -> str:
    """``value`` in place of the scalar at ``span``, a block scalar's last line break kept."""
    return value + ("\n" if text[span[0] : span[1]].endswith("\n") else "")


def _url_edit(text: str, span: tuple[int, int], url: str) -> str:
    """The scalar at ``span`` (whose value is ``url``) with the URL's password masked:
    only the password's characters when they are written once as they are, else the
    whole masked URL as a double-quoted scalar (escapes, a folded URL)."""
    raw = text[span[0] : span[1]]
    masked = masked_url(url) or url
    userinfo = urlsplit(url).netloc.rpartition("@")[0]
    if raw.count(f"{userinfo}@") == 1:
        user = userinfo.partition(":")[0]
        return raw.replace(f"{userinfo}@", f"{user}:{MASKED_PASSWORD}@", 1)
    return _whole(text, span, json.dumps(masked))  # JSON's escapes are YAML's too


@cache
def _url_fields(cls: type) -> frozenset[str]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return frozenset(name for name, hint in hints.items() if _is_url(hint))


def _is_url(hint: Any) -> bool:
    """``hint`` is a URL type, or an optional one."""
    if typing.get_origin(hint) is typing.Annotated:
        return any(isinstance(extra, IsURL) for extra in typing.get_args(hint)[1:])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_is_url(arg) for arg in typing.get_args(hint))
    return False


def _shown(value: object, f: dataclasses.Field[Any]) -> bool:
    """A string the status endpoint shows (a secret is hidden whole instead)."""
    return isinstance(value, str) and (
        not isinstance(value, Secret) or bool(f.metadata.get("shown"))
    )


def shown(text: str, config: Any) -> str:
    """The file as ``config.original`` shows it: secrets hidden, Tocsin's own keys
    commented out (when the file's layout allows; else left as they are)."""
    hidden = redacted(text, config)
    if hidden == HIDDEN:
        return hidden
    try:
        return commented_out(hidden)
    except _Unmovable as e:
        log.info("Tocsin's own keys are shown as written (%s)", e)
        return hidden


class _Unmovable(ValueError):
    """Tocsin's keys are written where a comment cannot take them out (flow style)."""


def commented_out(text: str) -> str:
    """``text`` with every Tocsin-only key and its value turned into comments, line by
    line ("# " before the key, and before the first character of each line of its
    value); line numbers, and every other character, stay as they are."""
    pairs = list(_tocsin_pairs(yaml.compose(text, Loader=GoYAMLLoader)))
    if not pairs:
        return text
    lines = text.splitlines(keepends=True)
    at: dict[int, int] = {}  # line -> the column "# " goes in at
    for key, value in pairs:
        first = key.start_mark.line
        at[first] = min(at.get(first, key.start_mark.column), key.start_mark.column)
        for n in range(first + 1, _last_line(text, value) + 1):
            body = lines[n].lstrip(" \t")
            if body.strip():
                at.setdefault(n, len(lines[n]) - len(body))
    for n, column in at.items():
        lines[n] = f"{lines[n][:column]}# {lines[n][column:]}"
    out = "".join(lines)
    if any(True for _ in _tocsin_pairs(yaml.compose(out, Loader=GoYAMLLoader))):
        raise _Unmovable("a key is still there once commented out")
    return out


def _tocsin_pairs(root: Node | None) -> Iterator[tuple[ScalarNode, Node]]:
    if not isinstance(root, MappingNode):
        return
    for key, value in root.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.value in TOCSIN_TOP_KEYS:
            yield _block(root, key, value)
        elif key.value == "receivers" and isinstance(value, SequenceNode):
            for receiver in value.value:
                if isinstance(receiver, MappingNode):
                    for k, v in receiver.value:
                        if isinstance(k, ScalarNode) and k.value in TOCSIN_RECEIVER_KEYS:
                            yield _block(receiver, k, v)


def _block(parent: MappingNode, key: ScalarNode, value: Node) -> tuple[ScalarNode, Node]:
    if parent.flow_style:
        raise _Unmovable(
            f"{key.value!r} is in a flow-style mapping, line {key.start_mark.line + 1}"
        )
    return key, value


def _last_line(text: str, value: Node) -> int:
    """The last line of ``value``: a block collection or block scalar ends where the
    next token starts (only indentation before it on its line), a plain or quoted
    scalar on its own last line."""
    end = value.end_mark
    line_start = text.rfind("\n", 0, end.index) + 1
    before: str = text[line_start : end.index]
    return int(end.line) - 1 if not before.strip() else int(end.line)


def _nodes(root: Node | None, paths: Iterator[Path]) -> Iterator[ScalarNode]:
    for path in paths:
        node = root
        for step in path:
            node = _child(node, step)
        # a value set by inheritance (from global:) has no node of its own: its source
        # is redacted where it is written
        if isinstance(node, ScalarNode) and node.value not in ("", SECRET_TOKEN):
            yield node


def _child(node: Node | None, step: str | int) -> Node | None:
    if isinstance(node, MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == step:
                found: Node = value
                return found
    elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: Node = node.value[step]
        return item
    return None


def _span(text: str, node: ScalarNode) -> tuple[int, int]:
    """Where the scalar's own text is: after its anchor or tag, if it has one."""
    start, end = node.start_mark.index, node.end_mark.index
    while start < end and text[start] in "&!":
        while start < end and not text[start].isspace():
            start += 1
        while start < end and text[start] in " \t":
            start += 1
    return start, end
