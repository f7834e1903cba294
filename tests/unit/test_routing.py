"""The routing tree, one row per behaviour of Alertmanager's docs (``<route>``) and
``dispatch/route.go`` (matching, inheritance, keys)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.routing import (
    RouteNode,
    build_route_tree,
    format_label_set,
    format_route_tree,
    format_routes_test,
    go_quote,
    group_key,
    group_labels,
    match,
    quote_each,
)
from tocsin.config import parse_config

S, M, H = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

# The tree of Alertmanager's TestRouteMatch, with the deprecated match/match_re.
LEGACY_TREE = """
route:
  receiver: notify-def
  routes:
  - match:
      owner: team-A
    receiver: notify-A
    routes:
    - match:
        env: testing
      receiver: notify-testing
      group_by: [...]
    - match:
        env: production
      receiver: notify-productionA
      group_wait: 1m
      continue: true
    - match_re:
        env: produ.*
        job: .*
      receiver: notify-productionB
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: [job]
  - match_re:
      owner: team-(B|C)
    group_by: [foo, bar]
    group_wait: 2m
    receiver: notify-BC
  - match:
      group_by: role
    group_by: [role]
    routes:
    - match:
        env: testing
      receiver: notify-testing
      routes:
      - match:
          wait: long
        group_wait: 2m
receivers:
  - name: notify-def
  - name: notify-A
  - name: notify-testing
  - name: notify-productionA
  - name: notify-productionB
  - name: notify-BC
"""

# The same tree written with matchers (Alertmanager's TestRouteMatchers).
MATCHERS_TREE = """
route:
  receiver: notify-def
  routes:
  - matchers: ['{owner="team-A"}', '{level!="critical"}']
    receiver: notify-A
    routes:
    - matchers: ['{env="testing"}', '{baz!~".*quux"}']
      receiver: notify-testing
      group_by: [...]
    - matchers: ['{env="production"}']
      receiver: notify-productionA
      group_wait: 1m
      continue: true
    - matchers: [ env=~"produ.*", job=~".*"]
      receiver: notify-productionB
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 1h
      group_by: [job]
  - matchers: [owner=~"team-(B|C)"]
    group_by: [foo, bar]
    group_wait: 2m
    receiver: notify-BC
  - matchers: [group_by="role"]
    group_by: [role]
    routes:
    - matchers: ['{env="testing"}']
      receiver: notify-testing
      routes:
      - matchers: [wait="long"]
        group_wait: 2m
receivers:
  - name: notify-def
  - name: notify-A
  - name: notify-testing
  - name: notify-productionA
  - name: notify-productionB
  - name: notify-BC
"""


def tree(text: str) -> RouteNode:
    return build_route_tree(parse_config(text))


# (labels, [(receiver, key, group_by, group_by_all, group_wait, group_interval, repeat)])
Row = tuple[dict[str, str], list[tuple[str, str, set[str], bool, timedelta, timedelta, timedelta]]]

LEGACY_ROWS: list[Row] = [
    # a matching child without matching grandchildren is the match itself
    (
        {"owner": "team-A"},
        [("notify-A", '{}/{owner="team-A"}', set(), False, 30 * S, 5 * M, 4 * H)],
    ),
    # a label the children do not match on leaves the alert at the parent
    (
        {"owner": "team-A", "env": "unset"},
        [("notify-A", '{}/{owner="team-A"}', set(), False, 30 * S, 5 * M, 4 * H)],
    ),
    # match_re: anchored regex; the key shows the anchored expression
    (
        {"owner": "team-C"},
        [
            (
                "notify-BC",
                '{}/{owner=~"^(?:team-(B|C))$"}',
                {"foo", "bar"},
                False,
                2 * M,
                5 * M,
                4 * H,
            )
        ],
    ),
    # group_by: ['...'] groups by all labels
    (
        {"owner": "team-A", "env": "testing"},
        [
            (
                "notify-testing",
                '{}/{owner="team-A"}/{env="testing"}',
                set(),
                True,
                30 * S,
                5 * M,
                4 * H,
            )
        ],
    ),
    # continue: true on a match keeps trying the later siblings
    (
        {"owner": "team-A", "env": "production"},
        [
            (
                "notify-productionA",
                '{}/{owner="team-A"}/{env="production"}',
                set(),
                False,
                M,
                5 * M,
                4 * H,
            ),
            (
                "notify-productionB",
                '{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}',
                {"job"},
                False,
                30 * S,
                5 * M,
                H,
            ),
        ],
    ),
    # a child without receiver inherits the parent's (here the root's)
    (
        {"group_by": "role"},
        [("notify-def", '{}/{group_by="role"}', {"role"}, False, 30 * S, 5 * M, 4 * H)],
    ),
    # group_by is inherited by a child that does not set it
    (
        {"env": "testing", "group_by": "role"},
        [
            (
                "notify-testing",
                '{}/{group_by="role"}/{env="testing"}',
                {"role"},
                False,
                30 * S,
                5 * M,
                4 * H,
            )
        ],
    ),
    # receiver and group_by inherited two levels down, group_wait overridden
    (
        {"env": "testing", "group_by": "role", "wait": "long"},
        [
            (
                "notify-testing",
                '{}/{group_by="role"}/{env="testing"}/{wait="long"}',
                {"role"},
                False,
                2 * M,
                5 * M,
                4 * H,
            )
        ],
    ),
    # nothing matches: the root handles the alert
    ({"unrelated": "x"}, [("notify-def", "{}", set(), False, 30 * S, 5 * M, 4 * H)]),
]

MATCHERS_ROWS: list[Row] = [
    # matchers: all must match; the key lists them sorted by name
    (
        {"owner": "team-A"},
        [("notify-A", '{}/{level!="critical",owner="team-A"}', set(), False, 30 * S, 5 * M, 4 * H)],
    ),
    # a != matcher also matches a missing label
    (
        {"owner": "team-A", "env": "unset"},
        [("notify-A", '{}/{level!="critical",owner="team-A"}', set(), False, 30 * S, 5 * M, 4 * H)],
    ),
    # matchers regexes are anchored too, but keys show them as written
    (
        {"owner": "team-C"},
        [("notify-BC", '{}/{owner=~"team-(B|C)"}', {"foo", "bar"}, False, 2 * M, 5 * M, 4 * H)],
    ),
    # several matcher strings and a !~ matcher; '...' grouping
    (
        {"owner": "team-A", "env": "testing"},
        [
            (
                "notify-testing",
                '{}/{level!="critical",owner="team-A"}/{baz!~".*quux",env="testing"}',
                set(),
                True,
                30 * S,
                5 * M,
                4 * H,
            )
        ],
    ),
    # continue with matchers
    (
        {"owner": "team-A", "env": "production"},
        [
            (
                "notify-productionA",
                '{}/{level!="critical",owner="team-A"}/{env="production"}',
                set(),
                False,
                M,
                5 * M,
                4 * H,
            ),
            (
                "notify-productionB",
                '{}/{level!="critical",owner="team-A"}/{env=~"produ.*",job=~".*"}',
                {"job"},
                False,
                30 * S,
                5 * M,
                H,
            ),
        ],
    ),
    # the != matcher rejects: team-A critical alerts stay at the root
    (
        {"owner": "team-A", "level": "critical"},
        [("notify-def", "{}", set(), False, 30 * S, 5 * M, 4 * H)],
    ),
]


def _summary(node: RouteNode) -> tuple[str, str, set[str], bool, timedelta, timedelta, timedelta]:
    return (
        node.receiver,
        node.key(),
        set(node.group_by),
        node.group_by_all,
        node.group_wait,
        node.group_interval,
        node.repeat_interval,
    )


@pytest.mark.parametrize(("labels", "expected"), LEGACY_ROWS)
def test_match_with_deprecated_match_and_match_re(
    labels: dict[str, str], expected: list[object]
) -> None:
    assert [_summary(n) for n in match(tree(LEGACY_TREE), labels)] == expected


@pytest.mark.parametrize(("labels", "expected"), MATCHERS_ROWS)
def test_match_with_matchers(labels: dict[str, str], expected: list[object]) -> None:
    assert [_summary(n) for n in match(tree(MATCHERS_TREE), labels)] == expected


def test_walk_visits_depth_first_in_order() -> None:
    # dispatch/route.go Walk (TestRouteWalk)
    assert [n.receiver for n in tree(LEGACY_TREE).walk()] == [
        "notify-def",
        "notify-A",
        "notify-testing",
        "notify-productionA",
        "notify-productionB",
        "notify-BC",
        "notify-def",
        "notify-testing",
        "notify-testing",
    ]


def test_ids_add_the_position_among_siblings() -> None:
    # dispatch/route.go ID(): key plus position, so siblings with equal matchers differ
    nodes = list(tree(LEGACY_TREE).walk())
    assert nodes[0].id() == "{}"
    assert nodes[1].id() == '{}/{owner="team-A"}/0'
    assert nodes[4].id() == '{}/{owner="team-A"}/{env=~"^(?:produ.*)$",job=~"^(?:.*)$"}/2'
    assert nodes[8].id() == '{}/{group_by="role"}/{env="testing"}/{wait="long"}/0'
    assert len({n.id() for n in nodes}) == len(nodes)


SIMPLE = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
{routes}
receivers: [{{name: default}}, {{name: a}}, {{name: b}}]
time_intervals: [{{name: night}}, {{name: day}}]
"""


def simple(routes: str) -> RouteNode:
    return tree(SIMPLE.format(routes=routes))


@pytest.mark.parametrize(
    ("routes", "labels", "receivers"),
    [
        # docs: "If continue is set to false, it stops after the first matching child"
        (
            '    - {matchers: [x="1"], receiver: a}\n    - {matchers: [x="1"], receiver: b}',
            {"x": "1"},
            "a",
        ),
        # docs: "If continue is true on a matching node, the alert will continue
        # matching against subsequent siblings"
        (
            '    - {matchers: [x="1"], receiver: a, continue: true}\n'
            '    - {matchers: [x="1"], receiver: b}',
            {"x": "1"},
            "a,b",
        ),
        # continue on a node that does not match changes nothing
        (
            '    - {matchers: [x="2"], receiver: a, continue: true}\n'
            '    - {matchers: [x="1"], receiver: b}',
            {"x": "1"},
            "b",
        ),
        # continue: true on every match collects them all, in tree order
        (
            '    - {matchers: [x="1"], receiver: a, continue: true}\n'
            '    - {matchers: [x=~".+"], receiver: b, continue: true}\n'
            "    - {receiver: default}",
            {"x": "1"},
            "a,b,default",
        ),
        # docs <regex>: "The regex is anchored on both ends"
        ("    - {matchers: ['x=~\"ab\"'], receiver: a}", {"x": "abc"}, "default"),
        # docs Label matchers: a missing label reads as the empty string
        ("    - {matchers: ['team=\"\"'], receiver: a}", {"x": "1"}, "a"),
        # a child with no matchers matches everything
        ("    - {receiver: a}\n    - {receiver: b}", {}, "a"),
        # docs: "If an alert does not match any children of a node [...] the alert is
        # handled based on the configuration parameters of the current node"
        (
            '    - {matchers: [x="1"], receiver: a, routes: [{matchers: [y="1"], receiver: b}]}',
            {"x": "1"},
            "a",
        ),
        # nested: the deepest matching node wins
        (
            '    - {matchers: [x="1"], receiver: a, routes: [{matchers: [y="1"], receiver: b}]}',
            {"x": "1", "y": "1"},
            "b",
        ),
    ],
)
def test_routes_test_output(routes: str, labels: dict[str, str], receivers: str) -> None:
    assert format_routes_test(simple(routes), labels) == receivers


def test_defaults_apply_to_the_root() -> None:
    # docs <route>: group_wait default 30s, group_interval 5m, repeat_interval 4h
    root = tree("route: {receiver: r}\nreceivers: [{name: r}]")
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30 * S, 5 * M, 4 * H)
    assert root.group_by == frozenset()
    assert root.group_by_all is False
    assert root.key() == "{}"


@pytest.mark.parametrize(
    ("child", "group_by", "group_by_all"),
    [
        # docs: optional parameters "are inherited from its parent node if not set"
        ("{receiver: a}", {"alertname"}, False),
        # an empty group_by list does not reset grouping (Alertmanager inherits it)
        ("{receiver: a, group_by: []}", {"alertname"}, False),
        # docs: "To aggregate by all possible labels use the special value '...'"
        ("{receiver: a, group_by: ['...']}", {"alertname"}, True),
        # labels replace the parent's
        ("{receiver: a, group_by: [cluster, service]}", {"cluster", "service"}, False),
    ],
)
def test_group_by_inheritance(child: str, group_by: set[str], group_by_all: bool) -> None:
    node = simple(f"    - {child}").routes[0]
    assert node.group_by == frozenset(group_by)
    assert node.group_by_all is group_by_all


def test_group_by_all_is_inherited_until_labels_are_given() -> None:
    # Alertmanager's TestInheritParentGroupByAll
    root = simple(
        '    - matchers: [env="parent"]\n'
        "      group_by: ['...']\n"
        "      routes:\n"
        '        - matchers: [env="child1"]\n'
        '        - matchers: [env="child2"]\n'
        "          group_by: [foo]\n"
    )
    parent = root.routes[0]
    child1, child2 = parent.routes
    assert parent.group_by_all
    assert child1.group_by_all
    assert not child2.group_by_all
    assert child2.group_by == frozenset({"foo"})


def test_timers_inherit_individually() -> None:
    node = simple(
        "    - receiver: a\n      group_interval: 1m\n"
        "      routes:\n        - repeat_interval: 2h\n"
    ).routes[0]
    grandchild = node.routes[0]
    assert grandchild.receiver == "a"
    assert grandchild.group_wait == 10 * S  # from the root
    assert grandchild.group_interval == M  # from the parent
    assert grandchild.repeat_interval == 2 * H  # its own


def test_time_intervals_are_not_inherited() -> None:
    # dispatch/route.go sets mute/active intervals from the node's own config only
    node = simple(
        "    - receiver: a\n      mute_time_intervals: [night]\n"
        "      active_time_intervals: [day]\n"
        '      routes:\n        - matchers: [x="1"]\n'
    ).routes[0]
    assert node.mute_time_intervals == ("night",)
    assert node.active_time_intervals == ("day",)
    assert node.routes[0].mute_time_intervals == ()
    assert node.routes[0].active_time_intervals == ()


def test_root_that_does_not_match_yields_nothing() -> None:
    # Route.Match returns nil when the node's own matchers reject the alert; only a
    # hand-built root can have matchers (the config loader refuses them).
    root = simple("    - {receiver: a}").routes[0]
    assert match(root, {"x": "1"}) == [root]
    child = simple('    - {matchers: [x="1"], receiver: a}').routes[0]
    assert match(child, {"x": "2"}) == []


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # group labels are the alert's labels named in group_by
        ({"alertname": "X", "instance": "i1"}, {"alertname": "X"}),
        # a group_by label the alert lacks is left out
        ({"instance": "i1"}, {}),
    ],
)
def test_group_labels(labels: dict[str, str], expected: dict[str, str]) -> None:
    assert group_labels(simple('    - {matchers: [x="1"]}'), labels) == expected


def test_group_labels_with_group_by_all() -> None:
    node = simple("    - {matchers: [x=\"1\"], group_by: ['...']}").routes[0]
    assert group_labels(node, {"x": "1", "b": "2"}) == {"x": "1", "b": "2"}


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        # aggrGroup.GroupKey(): "{route key}:{group labels}"
        ({"severity": "critical", "alertname": "X"}, '{}/{severity="critical"}:{alertname="X"}'),
        # labels sorted, ", "-separated, values quoted like Go's %q
        (
            {"severity": "critical", "alertname": "X", "service": 'a"b'},
            '{}/{severity="critical"}:{alertname="X", service="a\\"b"}',
        ),
        # no group labels
        ({"severity": "critical"}, '{}/{severity="critical"}:{}'),
    ],
)
def test_group_key(labels: dict[str, str], key: str) -> None:
    root = tree(
        'route:\n  receiver: r\n  routes:\n    - matchers: [severity="critical"]\n'
        "      group_by: [alertname, service]\nreceivers: [{name: r}]\n"
    )
    (node,) = match(root, labels)
    assert group_key(node, labels) == key


_names = st.sampled_from(["alertname", "b", "instance", "a_b", "zz"])


@given(
    st.dictionaries(_names, st.text(min_size=1), max_size=5),
    st.lists(_names, min_size=1, max_size=4, unique=True),
)
def test_group_key_is_the_route_key_and_the_group_labels(
    labels: dict[str, str], group_by: list[str]
) -> None:
    """The key, built without the group labels' dict, is the key of the group labels."""
    root = tree(f"route:\n  receiver: r\n  group_by: {group_by}\nreceivers: [{{name: r}}]\n")
    expected = f"{root.key()}:{format_label_set(group_labels(root, labels))}"
    assert group_key(root, labels) == expected


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('q"uote', '"q\\"uote"'),
        ("back\\slash", '"back\\\\slash"'),
        ("new\nline\ttab", '"new\\nline\\ttab"'),
        ("\x01", '"\\x01"'),
        ("\x7f", '"\\x7f"'),
        ("héllo ☃", '"héllo ☃"'),  # printable non-ASCII stays as is
        ("\u00a0", '"\\u00a0"'),  # a non-printable space is escaped
        ("\U000e0001", '"\\U000e0001"'),
    ],
)
def test_go_quote(value: str, quoted: str) -> None:
    assert go_quote(value) == quoted
    assert quote_each(value) == quoted


@given(st.text())
def test_go_quote_fast_path_agrees_with_the_reference(value: str) -> None:
    assert go_quote(value) == quote_each(value)


def test_format_label_set() -> None:
    assert format_label_set({"b": "2", "a": "1"}) == '{a="1", b="2"}'
    assert format_label_set({}) == "{}"


def test_format_route_tree_marks_matches() -> None:
    root = tree(LEGACY_TREE)
    matched = match(root, {"owner": "team-A", "env": "production"})
    text = format_route_tree(root, highlight=matched)
    lines = text.splitlines()
    assert lines[:3] == [
        "Routing tree:",
        ".",
        "└── default-route  receiver: notify-def",
    ]
    assert '    ├── {owner="team-A"}  receiver: notify-A' in lines
    assert (
        '    │   ├── {env="production"}  continue: true  receiver: notify-productionA  <- matched'
        in lines
    )
    assert sum("<- matched" in line for line in lines) == 2
