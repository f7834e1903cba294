"""Tocsin computes the same fingerprints as Alertmanager and refuses the same alerts.

Fingerprints are how users, amtool and other tools name an alert across systems, and
they are what a migration from Alertmanager carries over (silences, links, notification
logs), so they must be bit-for-bit Alertmanager's, including on unicode values, many
labels, and labels whose empty value both servers drop. The oracle is the real
Alertmanager, run side by side, not a re-derivation of its hash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import alert, by_labels, get_alerts, post_alerts, wait_until
from tests.harness.procs import AlertmanagerServer, TocsinServer
from tocsin.timeutil import format_rfc3339 as rfc3339

pytestmark = pytest.mark.e2e

LabelSet = dict[str, str]

ACCEPTED: list[tuple[str, LabelSet]] = [
    ("plain", {"alertname": "ParityPlain"}),
    ("typical", {"alertname": "HighLatency", "job": "api", "instance": "10.0.0.1:9100"}),
    ("unicode values", {"alertname": "Ünïcødé", "msg": "日本語 ✓ 🔥", "city": "Zürich"}),
    ("escapes", {"alertname": "Escapes", "quote": 'a"b\\c', "nl": "line1\nline2\ttab"}),
    ("high code points", {"alertname": "HighCodePoints", "v": "ÿ\U0010ffff\u2028"}),
    ("many labels", {"alertname": "Many", **{f"label_{i:02d}": f"value-{i}" for i in range(60)}}),
    ("byte order", {"alertname": "Order", "B": "1", "a": "2", "_x": "3", "aa": "4", "a_b": "5"}),
    ("split 1", {"alertname": "Split", "ab": "c"}),
    ("split 2", {"alertname": "Split", "a": "bc"}),
    ("metric name", {"alertname": "Named", "__name__": "up", "__meta": "x"}),
    ("long value", {"alertname": "Long", "v": "x" * 4096}),
    ("empty value dropped", {"alertname": "EmptyDropped", "gone": "", "kept": "yes"}),
    ("only alertname left", {"alertname": "OnlyName", "a": "", "b": ""}),
    ("no alertname", {"job": "nojob", "instance": "i"}),
]


def dropped(labels: LabelSet) -> LabelSet:
    """The label set both servers keep: empty values are the same as absent labels."""
    return {k: v for k, v in labels.items() if v != ""}


def test_fingerprints_match_alertmanager(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    alerts = [alert(labels) for _, labels in ACCEPTED]
    for url in (alertmanager.url, tocsin.url):
        response = post_alerts(url, alerts)
        assert response.status_code == 200, f"{url}: {response.text}"

    am = by_labels(get_alerts(alertmanager.url))
    ours = by_labels(get_alerts(tocsin.url))
    mismatches: list[str] = []
    for case, labels in ACCEPTED:
        key = frozenset(dropped(labels).items())
        assert key in am, f"{case}: Alertmanager does not hold {dropped(labels)}"
        if key not in ours:
            mismatches.append(f"{case}: Tocsin does not hold {dropped(labels)}")
            continue
        if ours[key]["fingerprint"] != am[key]["fingerprint"]:
            mismatches.append(
                f"{case}: Tocsin {ours[key]['fingerprint']} != AM {am[key]['fingerprint']}"
            )
    assert not mismatches, "\n".join(mismatches)
    # Nothing more than what was posted (e.g. no copy that kept an empty label).
    assert set(ours) == set(am)


def test_fingerprints_are_stable_across_updates(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    """Re-posting with other annotations and times updates the alert; neither server
    makes a second one, and the fingerprint, which is of the labels only, is unchanged."""
    labels = {"alertname": "Stable", "instance": "a"}
    first = alert(labels)
    later = alert(labels, annotations={"summary": "changed"}, minutes=30)
    for url in (alertmanager.url, tocsin.url):
        assert post_alerts(url, [first]).status_code == 200
        assert post_alerts(url, [later]).status_code == 200
    am = get_alerts(alertmanager.url)
    ours = get_alerts(tocsin.url)
    assert len(am) == len(ours) == 1
    assert ours[0]["fingerprint"] == am[0]["fingerprint"]
    assert ours[0]["annotations"] == am[0]["annotations"] == {"summary": "changed"}


def _times(start_offset_min: int, end_offset_min: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "startsAt": rfc3339(now + timedelta(minutes=start_offset_min)),
        "endsAt": rfc3339(now + timedelta(minutes=end_offset_min)),
    }


def case(name: str, body: Any, *marks: pytest.MarkDecorator) -> Any:
    return pytest.param(name, body, id=name, marks=marks)


INVALID = [
    case("label name starts with a digit", [{"labels": {"alertname": "x", "1abc": "v"}}]),
    case("label name with a dash", [{"labels": {"alertname": "x", "foo-bar": "v"}}]),
    case("non-ASCII label name", [{"labels": {"alertname": "x", "é": "v"}}]),
    case("endsAt before startsAt", [{"labels": {"alertname": "Back"}, **_times(0, -10)}]),
    case("no labels", [{"labels": {}}]),
    case("only empty-valued labels", [{"labels": {"a": ""}}]),
    case(
        "invalid annotation name",
        [{"labels": {"alertname": "x"}, "annotations": {"1bad": "v"}}],
    ),
    case(
        "annotation name with a dash",
        [{"labels": {"alertname": "x"}, "annotations": {"a-b": "v"}}],
    ),
    case("bad startsAt", [{"labels": {"alertname": "x"}, "startsAt": "yesterday"}]),
    case("label value is a number", [{"labels": {"alertname": 1}}]),
    case("body is an object", {"labels": {"alertname": "x"}}),
    case("body is not JSON", "not json"),
]


def _post_raw(url: str, body: Any) -> httpx.Response:
    """POST ``body`` as JSON (a ``str`` is sent verbatim)."""
    if isinstance(body, str):
        response = httpx.post(
            f"{url}/api/v2/alerts",
            content=body.encode(),
            headers={"content-type": "application/json"},
            timeout=30.0,
        )
    else:
        response = httpx.post(f"{url}/api/v2/alerts", json=body, timeout=30.0)
    return response


@pytest.mark.parametrize(("name", "body"), INVALID)
def test_same_invalid_alerts_refused_with_400(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer, name: str, body: Any
) -> None:
    am = _post_raw(alertmanager.url, body)
    assert am.status_code == 400, f"{name}: the oracle changed: {am.status_code} {am.text}"
    ours = _post_raw(tocsin.url, body)
    assert ours.status_code == 400, f"{name}: {ours.status_code} {ours.text}"
    assert get_alerts(tocsin.url) == get_alerts(alertmanager.url) == []


def test_mixed_batch_keeps_the_valid_alerts_like_alertmanager(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    """Alertmanager answers 400 for a batch with one bad alert but keeps the good ones;
    Prometheus does not resend a batch on 4xx, so doing otherwise would lose them."""
    batch = [
        alert({"alertname": "GoodOne"}),
        {"labels": {"alertname": "Bad", "1abc": "v"}},
        alert({"alertname": "GoodTwo", "x": ""}),
    ]
    for url in (alertmanager.url, tocsin.url):
        response = _post_raw(url, batch)
        assert response.status_code == 400, f"{url}: {response.status_code} {response.text}"
    am = {a["fingerprint"]: a["labels"] for a in get_alerts(alertmanager.url)}
    ours = {a["fingerprint"]: a["labels"] for a in get_alerts(tocsin.url)}
    assert ours == am
    assert sorted(x["alertname"] for x in ours.values()) == ["GoodOne", "GoodTwo"]


SCHEMA_VIOLATIONS = [
    case("no labels key", [{"annotations": {"summary": "none"}}]),
    case("labels is null", [{"labels": None}]),
    case(
        "generatorURL is not a URI",
        [{"labels": {"alertname": "x"}, "generatorURL": "not a url"}],
    ),
]


@pytest.mark.parametrize(("name", "body"), SCHEMA_VIOLATIONS)
def test_schema_violations_get_alertmanagers_422(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer, name: str, body: Any
) -> None:
    """What fails Alertmanager's OpenAPI schema check is answered 422 by go-swagger,
    before its own validation (400); and nothing of the batch is kept."""
    am = _post_raw(alertmanager.url, body)
    assert am.status_code == 422, f"{name}: the oracle changed: {am.status_code} {am.text}"
    ours = _post_raw(tocsin.url, body)
    assert ours.status_code == 422, f"{name}: {ours.status_code} {ours.text}"
    assert get_alerts(tocsin.url) == []


def test_alert_json_has_the_keys_alertmanager_sends(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    """Strictly-typed clients see the same object: Alertmanager leaves out what is
    empty and ``omitempty`` (``generatorURL``), and always sends the rest."""
    alerts = [
        {"labels": {"alertname": "NoURL"}},
        alert({"alertname": "WithURL"}),
    ]
    for url in (alertmanager.url, tocsin.url):
        assert post_alerts(url, alerts).status_code == 200
    am = {a["labels"]["alertname"]: a for a in get_alerts(alertmanager.url)}
    ours = {a["labels"]["alertname"]: a for a in get_alerts(tocsin.url)}
    for name in ("NoURL", "WithURL"):
        assert sorted(ours[name]) == sorted(am[name]), name
        assert sorted(ours[name]["status"]) == sorted(am[name]["status"]), name


def _groups(url: str) -> set[tuple[str, frozenset[tuple[str, str]], frozenset[str]]]:
    response = httpx.get(f"{url}/api/v2/alerts/groups", timeout=30.0)
    assert response.status_code == 200, response.text
    return {
        (
            g["receiver"]["name"],
            frozenset(g["labels"].items()),
            frozenset(a["fingerprint"] for a in g["alerts"]),
        )
        for g in response.json()
    }


def test_groups_silences_and_inhibitions_match_alertmanager(
    tocsin: TocsinServer, alertmanager: AlertmanagerServer
) -> None:
    """The same alerts, silence and inhibit rule give the same groups and the same
    state (active, suppressed by a silence, suppressed by an inhibiting alert)."""
    alerts = [
        alert({"alertname": "DiskFull", "instance": "db1", "team": "db", "severity": "critical"}),
        alert({"alertname": "DiskFull", "instance": "db1", "team": "db", "severity": "warning"}),
        alert({"alertname": "DiskFull", "instance": "db2", "team": "db", "severity": "warning"}),
        alert({"alertname": "HighLoad", "instance": "web1", "severity": "warning"}),
        alert({"alertname": "HighLoad", "instance": "web2", "severity": "warning"}),
    ]
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "instance", "value": "web2", "isRegex": False, "isEqual": True}],
        "startsAt": rfc3339(now - timedelta(seconds=1)),
        "endsAt": rfc3339(now + timedelta(hours=1)),
        "createdBy": "parity",
        "comment": "parity",
    }
    silence_ids: dict[str, str] = {}
    for url in (alertmanager.url, tocsin.url):
        assert post_alerts(url, alerts).status_code == 200
        response = httpx.post(f"{url}/api/v2/silences", json=silence, timeout=30.0)
        assert response.status_code == 200, response.text
        silence_ids[url] = response.json()["silenceID"]

    def states(url: str) -> dict[str, tuple[str, list[str], list[str]]] | None:
        """fingerprint -> (state, silencedBy as "silence", inhibitedBy fingerprints)."""
        out = {}
        for a in get_alerts(url):
            status = a["status"]
            silenced = ["silence" for s in status["silencedBy"] if s == silence_ids[url]]
            out[a["fingerprint"]] = (status["state"], silenced, sorted(status["inhibitedBy"]))
        # Both servers settle inhibitions asynchronously: wait for the inhibited one.
        return out if any(v[2] for v in out.values()) else None

    expected = wait_until(lambda: states(alertmanager.url), 30, "Alertmanager to inhibit")
    ours = wait_until(lambda: states(tocsin.url), 30, "Tocsin to inhibit")
    assert ours == expected
    assert sorted(state for state, _, _ in ours.values()) == [
        "active",
        "active",
        "active",
        "suppressed",
        "suppressed",
    ]

    # Alertmanager fills its groups asynchronously too: wait until every alert is in one.
    def settled(url: str) -> set[tuple[str, frozenset[tuple[str, str]], frozenset[str]]]:
        groups = _groups(url)
        grouped = set().union(*(fingerprints for _, _, fingerprints in groups))
        return groups if grouped == set(expected) else set()

    am_groups = wait_until(lambda: settled(alertmanager.url), 30, "Alertmanager's groups")
    assert wait_until(lambda: settled(tocsin.url), 30, "Tocsin's groups") == am_groups


# (case, matcher value, label values): each value is posted as an alert and the regex
# silence must suppress exactly the ones Alertmanager's suppresses.
REGEX_SILENCES = [
    ("anchored", "api", ["api", "api-gateway", "xapi"]),
    ("alternation", "critical|warning", ["critical", "warning", "warn", "critical|warning"]),
    ("ascii digits", "\\d+", ["12", "\u0661\u0662", "1a"]),
    ("unicode class", "\\pL+", ["\u00e9t\u00e9", "ete", "e1"]),
    ("flags", "(?i)DB-.*", ["db-1", "DB-2", "xdb-3"]),
    # Exponential for a backtracking engine, linear for Go's and Tocsin's RE2.
    (
        "nested quantifier",
        "([a-z0-9-]+)+-canary",
        ["checkout-7f9c-canary", "checkout-api-7f9c8d6b5-xkq2p-worker-queue" * 40],
    ),
]


@pytest.mark.parametrize(("name", "pattern", "values"), REGEX_SILENCES)
def test_regex_silences_suppress_what_alertmanagers_do(
    tocsin: TocsinServer,
    alertmanager: AlertmanagerServer,
    name: str,
    pattern: str,
    values: list[str],
) -> None:
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "v", "value": pattern, "isRegex": True, "isEqual": True}],
        "startsAt": rfc3339(now - timedelta(seconds=1)),
        "endsAt": rfc3339(now + timedelta(hours=1)),
        "createdBy": "parity",
        "comment": name,
    }
    alerts = [alert({"alertname": "Regex", "v": v}) for v in values]

    def suppressed(url: str) -> dict[str, str] | None:
        got = {a["labels"]["v"]: a["status"]["state"] for a in get_alerts(url)}
        return got if len(got) == len(values) else None

    outcome: dict[str, dict[str, str]] = {}
    for url in (alertmanager.url, tocsin.url):
        response = httpx.post(f"{url}/api/v2/silences", json=silence, timeout=30.0)
        assert response.status_code == 200, response.text
        assert post_alerts(url, alerts).status_code == 200
        outcome[url] = wait_until(partial(suppressed, url), 30, f"{url} to hold the alerts")
    assert outcome[tocsin.url] == outcome[alertmanager.url]
    assert "suppressed" in outcome[tocsin.url].values()


# Silences both servers refuse, and one both keep.
SILENCE_BODIES = [
    ("backreference", {"matchers": [{"name": "a", "value": "(a)\\1", "isRegex": True}]}, False),
    ("look-ahead", {"matchers": [{"name": "a", "value": "(?=a)a", "isRegex": True}]}, False),
    ("no createdBy", {"createdBy": None}, False),
    ("no comment", {"comment": None}, False),
    ("empty createdBy", {"createdBy": ""}, True),
]


@pytest.mark.parametrize(("name", "change", "kept"), SILENCE_BODIES)
def test_silences_are_refused_and_kept_as_alertmanager_does(
    tocsin: TocsinServer,
    alertmanager: AlertmanagerServer,
    name: str,
    change: dict[str, Any],
    kept: bool,
) -> None:
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "a", "value": "b", "isRegex": False}],
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + timedelta(hours=1)),
        "createdBy": "parity",
        "comment": name,
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    for url in (alertmanager.url, tocsin.url):
        response = httpx.post(f"{url}/api/v2/silences", json=body, timeout=30.0)
        assert response.is_success is kept, f"{url} {name}: {response.status_code} {response.text}"
        held = httpx.get(f"{url}/api/v2/silences", timeout=30.0).json()
        assert len(held) == int(kept), f"{url} {name}"
