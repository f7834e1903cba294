"""The configuration as ``GET /api/v2/status`` shows it (``config.original``, which
``amtool config show`` prints and ``amtool config routes`` parses): the file as written,
with the value of every secret field (passwords, tokens, routing keys, Slack and Teams
webhook URLs: the fields typed :class:`~tocsin.config.decode.Secret`) replaced by
``<secret>``, as Alertmanager prints them. The text stays the user's own (comments,
order, style); only those values go.

The values are found by where they are, not by what they say: each secret field's path
in the decoded configuration leads to its node in the file, and exactly that node's text
is replaced (a plain, quoted, flow or block scalar alike; an anchor before it is kept).
A scalar elsewhere that happens to equal a secret is left alone."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tocsin.config.common import SECRET_TOKEN
from tocsin.config.decode import GoYAMLLoader, Secret, yaml_key

log = logging.getLogger(__name__)

Path = tuple[str | int, ...]
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


def redacted(text: str, config: Any) -> str:
    """``text`` (the file ``config`` was decoded from) with its secrets' values hidden."""
    try:
        root = yaml.compose(text, Loader=GoYAMLLoader)  # a SafeLoader
        spans = {_span(text, node) for node in _nodes(root, secret_paths(config))}
    except Exception:
        log.exception("the configuration could not be redacted")
        return HIDDEN
    for start, end in sorted(spans, reverse=True):
        tail = "\n" if text[start:end].endswith("\n") else ""  # a block scalar's last line
        text = f"{text[:start]}{SECRET_TOKEN}{tail}{text[end:]}"
    return text


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
