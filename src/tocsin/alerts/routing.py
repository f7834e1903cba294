"""The routing tree: which route nodes (and so receivers) an alert goes to, and its group.

Built once from the configuration, then asked pure questions. The semantics are
Alertmanager's (``dispatch/route.go``):

* a child inherits ``receiver``, ``group_by``, ``group_wait``, ``group_interval`` and
  ``repeat_interval`` from its parent when it does not set them; the root falls back to
  30s / 5m / 4h and no grouping. ``mute_time_intervals`` and ``active_time_intervals``
  are *not* inherited (Alertmanager sets them from the node's own configuration only);
* ``group_by: ['...']`` groups by all labels; an empty ``group_by`` inherits;
* matching is depth-first: the first matching child wins unless it has
  ``continue: true``, in which case its later siblings are tried too, and a node none of
  whose children match is itself the match;
* ``key()`` and ``id()`` are Alertmanager's route key and id; the group key
  ``{route key}:{group labels}`` is what notifications and the API call ``groupKey``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from tocsin.alerts.matchers import Matcher, matches_all
from tocsin.config.common import with_legacy_maps
from tocsin.config.model import Config, Route

__all__ = [
    "DEFAULT_GROUP_INTERVAL",
    "DEFAULT_GROUP_WAIT",
    "DEFAULT_REPEAT_INTERVAL",
    "RouteNode",
    "build_route_tree",
    "format_label_set",
    "format_route_tree",
    "format_routes_test",
    "go_quote",
    "group_key",
    "group_labels",
    "match",
    "matchers_string",
]

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True)
class RouteNode:
    """One resolved node: its own matchers plus the settings in force there."""

    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: frozenset[str]
    group_by_all: bool
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: tuple[RouteNode, ...]
    _key: str = field(repr=False, compare=False)
    _id: str = field(repr=False)
    # group_by sorted, as the group key lists them (built once, read per alert)
    _group_names: tuple[str, ...] = field(repr=False, compare=False, default=())

    def key(self) -> str:
        """Alertmanager's ``Route.Key()``: the matchers of the path from the root,
        e.g. ``{}/{severity="critical"}``. Not unique when siblings share matchers."""
        return self._key

    def id(self) -> str:
        """Alertmanager's ``Route.ID()``: the key plus the position among siblings."""
        return self._id

    def walk(self) -> Iterator[RouteNode]:
        """This node and its descendants, depth-first in configuration order."""
        yield self
        for child in self.routes:
            yield from child.walk()


def build_route_tree(config: Config | Route) -> RouteNode:
    """Resolve the configured tree (inheritance, defaults, keys) into :class:`RouteNode`."""
    root = config.route if isinstance(config, Config) else config
    return _build(
        root,
        parent=None,
        position=None,
        receiver="",
        group_by=frozenset(),
        group_by_all=False,
        timers=(DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL),
    )


def _build(
    route: Route,
    *,
    parent: str | None,
    position: int | None,
    receiver: str,
    group_by: frozenset[str],
    group_by_all: bool,
    timers: tuple[timedelta, timedelta, timedelta],
) -> RouteNode:
    receiver = route.receiver or receiver
    # Alertmanager only overrides group_by when real label names are listed; a lone
    # '...' switches grouping by all labels on, and an empty list inherits both.
    labels = [name for name in route.group_by or () if name != "..."]
    if labels:
        group_by, group_by_all = frozenset(labels), False
    elif route.group_by and "..." in route.group_by:
        group_by_all = True
    wait, interval, repeat = timers
    timers = (
        route.group_wait if route.group_wait is not None else wait,
        route.group_interval if route.group_interval is not None else interval,
        route.repeat_interval if route.repeat_interval is not None else repeat,
    )
    matchers = _node_matchers(route)
    key = matchers_string(matchers) if parent is None else f"{parent}/{matchers_string(matchers)}"
    node_id = key if position is None else f"{key}/{position}"
    children = tuple(
        _build(
            child,
            parent=key,
            position=index,
            receiver=receiver,
            group_by=group_by,
            group_by_all=group_by_all,
            timers=timers,
        )
        for index, child in enumerate(route.routes)
    )
    return RouteNode(
        receiver=receiver,
        matchers=matchers,
        continue_=route.continue_,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=timers[0],
        group_interval=timers[1],
        repeat_interval=timers[2],
        mute_time_intervals=route.mute_time_intervals,
        active_time_intervals=route.active_time_intervals,
        routes=children,
        _key=key,
        _id=node_id,
        _group_names=tuple(sorted(group_by)),
    )


def _node_matchers(route: Route) -> tuple[Matcher, ...]:
    return with_legacy_maps(route.match, route.match_re, route.matchers)


def match(root: RouteNode, labels: Mapping[str, str]) -> list[RouteNode]:
    """The nodes ``labels`` is routed to, in tree order; empty only if the root rejects it."""
    if not matches_all(root.matchers, labels):
        return []
    found: list[RouteNode] = []
    for child in root.routes:
        matched = match(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [root]


def group_labels(node: RouteNode, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels of ``labels`` the node groups by (all of them with ``...``)."""
    if node.group_by_all:
        return dict(labels)
    return {name: value for name, value in labels.items() if name in node.group_by}


def group_key(node: RouteNode, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key, e.g. ``{}/{severity="critical"}:{alertname="X"}``."""
    if node.group_by_all:
        return f"{node.key()}:{format_label_set(labels)}"
    # format_label_set(group_labels(...)) without the dict and the sort: this runs for
    # every alert that reaches a route, a storm's included
    pairs = ", ".join(
        f"{name}={go_quote(value)}"
        for name in node._group_names
        if (value := labels.get(name)) is not None
    )
    return f"{node.key()}:{{{pairs}}}"


def matchers_string(matchers: Collection[Matcher]) -> str:
    """``{a="1",b=~"x"}`` as Alertmanager prints a matcher list (no spaces)."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def format_label_set(labels: Mapping[str, str]) -> str:
    """``{a="1", b="2"}``: names sorted, values quoted as Go's ``strconv.Quote`` does."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(value: str) -> str:
    """Go's ``strconv.Quote``: printable characters as they are, others escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'  # the usual label value: nothing to escape (one C-speed check)
    return quote_each(value)


def quote_each(value: str) -> str:
    """:func:`go_quote` character by character (any value; the reference)."""
    out = ['"']
    for ch in value:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def format_routes_test(root: RouteNode, labels: Mapping[str, str]) -> str:
    """The receivers ``labels`` is routed to, comma-separated, as ``amtool config routes test``."""
    return ",".join(node.receiver for node in match(root, labels))


def format_route_tree(root: RouteNode, highlight: Collection[RouteNode] = ()) -> str:
    """The tree as ``amtool config routes`` draws it; nodes in ``highlight`` are marked."""
    marked = {node.id() for node in highlight}
    lines = ["Routing tree:", "."]

    def slug(node: RouteNode) -> str:
        text = "default-route" if not node.matchers else matchers_string(node.matchers)
        if node.continue_:
            text += "  continue: true"
        text += f"  receiver: {node.receiver}"
        if node.id() in marked:
            text += "  <- matched"
        return text

    def draw(node: RouteNode, prefix: str, last: bool) -> None:
        lines.append(f"{prefix}{'└── ' if last else '├── '}{slug(node)}")
        child_prefix = prefix + ("    " if last else "│   ")
        for index, child in enumerate(node.routes):
            draw(child, child_prefix, index == len(node.routes) - 1)

    draw(root, "", True)
    return "\n".join(lines)
