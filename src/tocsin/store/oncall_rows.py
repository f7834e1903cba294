"""Queries on the on-call tables: group lifecycle rows, due rows, overrides, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from random import getrandbits
from typing import Any

import orjson
from msgspec import Struct
from sqlalchemy import Connection, and_, delete, func, insert, select

from tocsin.oncall.lifecycle import AuditEntry
from tocsin.oncall.schedules import Override
from tocsin.store.plainsql import driver, insert_rows, marks, raw_cursor
from tocsin.store.tables import oncall_due, oncall_groups, oncall_paged, schedule_overrides
from tocsin.timeutil import from_micros, to_micros


class OncallGroupRow(Struct, frozen=True):
    group_id: str
    route_id: str
    group_key: str
    receiver: str
    state: dict[str, Any]  # {"lifecycle": ..., "escalation": ..., "policy": ..., "alerts": [...]}
    updated_at: datetime


def get_group(conn: Connection, group_id: str) -> OncallGroupRow | None:
    return get_groups(conn, [group_id]).get(group_id)


def page_moot(conn: Connection, escalation_id: str) -> str | None:
    """Why a page of this escalation, decided while its group fired, need not be sent
    any more (the group acknowledged, snoozed or resolved since, or firing again as a
    newer escalation), or None: it still wakes someone who is needed. Escalation ids
    are ``GROUP#N`` (``lifecycle.escalation_id_for``)."""
    group_id = escalation_id.rpartition("#")[0]
    query = select(oncall_groups.c.status, oncall_groups.c.escalation_id).where(
        oncall_groups.c.group_id == group_id
    )
    found = conn.execute(query).first()
    if found is None:
        return None  # (a group forgotten since: sent, as decided)
    status, current = found
    if current != escalation_id:
        return "not sent: its group fired again since, a newer escalation pages for it"
    if status != "firing":
        return f"not sent: its group was {status} before it went"
    return None


def get_groups(
    conn: Connection, group_ids: Collection[str], broken: set[str] | None = None
) -> dict[str, OncallGroupRow]:
    """The rows of ``group_ids`` that exist, by id: one query for a whole batch.

    A row whose escalation's frozen policy is not stored (written by hand, or by a bug)
    comes without its escalation, and its id is added to ``broken`` if given: a page
    still shows the group, and an op fails that group alone."""
    if not group_ids:
        return {}
    found = _fetch(conn, *_in_groups(conn, _GROUPS, group_ids))
    return _groups(conn, found, broken)


def groups_of_keys(conn: Connection, keys: Collection[str]) -> dict[str, list[tuple[str, str]]]:
    """The ``(group id, receiver)`` of the groups of each group key of ``keys``, the
    last updated first."""
    if not keys:
        return {}
    sql, params = _in_list(
        conn,
        "SELECT group_key, group_id, receiver FROM oncall_groups WHERE {where} "
        "ORDER BY updated_at DESC, group_id",
        "group_key",
        keys,
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for key, group_id, receiver in _fetch(conn, sql, params):
        out.setdefault(key, []).append((group_id, receiver))
    return out


def _in_groups(conn: Connection, sql: str, group_ids: Collection[str]) -> tuple[str, Any]:
    """``sql`` (``{where}`` in it) for the rows of ``group_ids``: :func:`_in_list`."""
    return _in_list(conn, sql, "group_id", group_ids)


def _in_list(conn: Connection, sql: str, column: str, values: Collection[str]) -> tuple[str, Any]:
    """``sql`` (``{where}`` in it) for the rows whose ``column`` is one of ``values``,
    and its one parameter whatever their number: the statement text stays the same, so
    the driver's statement cache keeps it prepared."""
    if conn.dialect.name == "sqlite":
        where = f"{column} IN (SELECT value FROM json_each(?))"
        return sql.format(where=where), (orjson.dumps(list(values)).decode(),)
    return sql.format(where=f"{column} = ANY(%s)"), (list(values),)


def _fetch(conn: Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Run a query on the DBAPI cursor of ``conn`` (in its transaction): plain tuples,
    without SQLAlchemy's row objects, which cost more than the query on a batch."""
    with raw_cursor(conn) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# The ladder columns in the order of ``Ladder``'s fields after its group id.
_LADDER = (
    "status",
    "escalation_id",
    "esc_id",
    "esc_policy",
    "esc_started",
    "esc_step",
    "esc_round",
    "esc_fired",
    "esc_next_step",
    "esc_next_round",
    "esc_next_due",
)
_LADDER_COLUMNS = ", ".join(_LADDER)
_GROUP_COLUMNS = f"group_id, route_id, group_key, receiver, state, updated_at, {_LADDER_COLUMNS}"
_GROUPS = f"SELECT {_GROUP_COLUMNS} FROM oncall_groups WHERE {{where}}"


def list_groups(conn: Connection, limit: int = 200) -> list[OncallGroupRow]:
    """The groups that need someone first (firing, acknowledged, snoozed, then
    resolved), the most recently changed first within each: under a storm of resolved
    groups, the one still firing is in the first ``limit``, at the top."""
    sql = (
        f"SELECT {_GROUP_COLUMNS} FROM oncall_groups ORDER BY CASE status "
        "WHEN 'firing' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'snoozed' THEN 2 ELSE 3 END, "
        "updated_at DESC LIMIT ?"
    )
    return list(_groups(conn, _fetch(conn, driver(conn, sql), (limit,))).values())


def open_or_resolved_since(conn: Connection, since: datetime) -> list[OncallGroupRow]:
    """The groups not resolved, and those resolved (or changed) since ``since``."""
    sql = _GROUPS.format(
        where="status IN ('firing', 'acknowledged', 'snoozed') "
        "OR (status = 'resolved' AND updated_at >= ?)"
    )
    found = _fetch(conn, driver(conn, sql), (to_micros(since),))
    return list(_groups(conn, found).values())


# The audit trails an unheard round reads, at most: a storm on an empty rota makes
# thousands of unheard groups, and each trail is a query of its own.
UNHEARD_TRAILS = 50


def unheard(conn: Connection) -> list[tuple[OncallGroupRow, list[dict[str, Any]]]]:
    """The firing groups whose escalation has ended (its last step fired, no step
    awaited) with no page built to anyone and none waiting to be: their alerts woke
    nobody; the first ``UNHEARD_TRAILS`` (oldest first) with their audit trails, the
    others with none. Read at most once a second, walking the firing groups (the
    status index): no index of their own."""
    sql = _GROUPS.format(
        where="status = 'firing' AND esc_id IS NOT NULL AND esc_fired "
        "AND esc_next_due IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM oncall_paged p WHERE p.escalation_id = esc_id) "
        "AND NOT EXISTS (SELECT 1 FROM oncall_due d WHERE d.group_id = "
        "oncall_groups.group_id AND d.kind = 'notify' AND d.done = false) "
        "ORDER BY opened_at, group_id"
    )
    rows = list(_groups(conn, _fetch(conn, driver(conn, sql), ())).values())
    return [
        (row, audit_of(conn, row.group_id) if i < UNHEARD_TRAILS else [])
        for i, row in enumerate(rows)
    ]


def _groups(
    conn: Connection, found: Sequence[tuple[Any, ...]], broken: set[str] | None = None
) -> dict[str, OncallGroupRow]:
    """Rows read with ``_GROUP_COLUMNS`` as :class:`OncallGroupRow`, by id, in order: the
    state with its escalation put back together from the ladder columns (a row whose
    frozen policy is missing: see :func:`get_groups`)."""
    keys = {r[9] for r in found if r[8] is not None}
    snapshots = policy_snapshots(conn, keys) if keys else {}
    loads, micros = orjson.loads, from_micros
    out: dict[str, OncallGroupRow] = {}
    for r in found:
        state = loads(r[4])
        if r[8] is not None:
            if r[9] in snapshots:
                state["escalation"] = _escalation_json(r[0], r[8:], snapshots)
            elif broken is not None:  # written with the group: missing only if changed by hand
                broken.add(r[0])
        out[r[0]] = OncallGroupRow(r[0], r[1], r[2], r[3], state, micros(r[5]))
    return out


def _escalation_json(
    group_id: str, ladder: Sequence[Any], snapshots: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The escalation's JSON (``Escalation.to_json``) from the columns from ``esc_id`` on."""
    esc_id, key, started, step, round_, fired, next_step, next_round, next_due = ladder
    return {
        "id": esc_id,
        "group_key": group_id,
        "policy_snapshot": snapshots[key],
        "started_at": started,
        "step_index": step,
        "round": round_,
        "fired": bool(fired),
        "next_due": None
        if next_step is None
        else {
            "escalation_id": esc_id,
            "step_index": next_step,
            "round": next_round,
            "due_at": next_due,
        },
    }


def save_group(conn: Connection, g: OncallGroupRow, rev: int) -> None:
    save_groups(conn, [g], rev)


def save_groups(conn: Connection, groups: Sequence[OncallGroupRow], rev: int) -> None:
    """Upsert ``groups`` in one ``executemany``."""
    policies: dict[str, str] = {}
    rows = []
    for g in groups:
        state, ladder = _split(g, policies)
        updated = to_micros(g.updated_at)
        head = (g.group_id, g.route_id, g.group_key, g.receiver, state, updated)
        rows.append((*head, rev, *ladder, updated))
    add_policies(conn, policies)
    _write(conn, _SAVE_GROUP, rows)


# An upsert that sets ``opened_at`` when it makes the row and never changes it. Every
# write of a ladder clears its lease (a failed step's, see ``release_due``): the write is
# a new decision about the step it awaits.
_SAVE = ("group_id", "route_id", "group_key", "receiver", "state", "updated_at", "rev")
_SAVE_GROUP = (
    f"INSERT INTO oncall_groups ({', '.join(_SAVE)}, {_LADDER_COLUMNS}, opened_at) "
    f"VALUES ({marks(len(_SAVE) + len(_LADDER) + 1)}) ON CONFLICT (group_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_SAVE[1:], *_LADDER))
    + ", esc_lease = 0"
)


def update_groups(conn: Connection, groups: Sequence[OncallGroupRow], rev: int) -> None:
    """Write the state of groups that have a row (a plain UPDATE: cheaper than an
    upsert, and their route, key and receiver never change)."""
    policies: dict[str, str] = {}
    rows = []
    for g in groups:
        state, ladder = _split(g, policies)
        rows.append((state, to_micros(g.updated_at), rev, *ladder, g.group_id))
    add_policies(conn, policies)
    _write(conn, _UPDATE_GROUP, rows)


_UPDATE_GROUP = (
    "UPDATE oncall_groups SET state = ?, updated_at = ?, rev = ?, "
    + ", ".join(f"{c} = ?" for c in _LADDER)
    + ", esc_lease = 0 WHERE group_id = ?"
)


def _split(g: OncallGroupRow, policies: dict[str, str]) -> tuple[str, tuple[Any, ...]]:
    """The state's JSON without its escalation, and the ladder columns; the frozen
    policy goes into ``policies`` (key -> JSON), to be stored once."""
    state = g.state
    lifecycle = state.get("lifecycle")
    status = "" if lifecycle is None else lifecycle["status"]
    current = None if lifecycle is None else lifecycle["escalation_id"]
    escalation = state.get("escalation")
    if escalation is None:
        text = orjson.dumps(state).decode()
        return text, (status, current, None, None, None, 0, 0, False, None, None, None)
    rest = {k: v for k, v in state.items() if k != "escalation"}
    esc_id = escalation["id"]
    # invariants of the engine, which the columns rely on to leave these out
    if escalation["group_key"] != g.group_id:
        raise ValueError(
            f"escalation {esc_id} of group {g.group_id} names group {escalation['group_key']}"
        )
    key, snapshot = policy_key(escalation["policy_snapshot"])
    policies[key] = snapshot
    nxt = escalation["next_due"]
    if nxt is not None and nxt["escalation_id"] != esc_id:
        raise ValueError(f"escalation {esc_id} awaits a row of escalation {nxt['escalation_id']}")
    return orjson.dumps(rest).decode(), (
        status,
        current,
        esc_id,
        key,
        escalation["started_at"],
        escalation["step_index"],
        escalation["round"],
        escalation["fired"],
        None if nxt is None else nxt["step_index"],
        None if nxt is None else nxt["round"],
        None if nxt is None else nxt["due_at"],
    )


# --- frozen policies: stored once per content ----------------------------------------------

# Content-addressed, so never stale: the JSON of a key, and the key of a snapshot dict
# (by identity: the escalation module hands out one dict per policy object; the memo
# holds the dict, so its id stays its own). Both are cleared when full.
_MEMO_SIZE = 256
_snapshots: dict[str, dict[str, Any]] = {}
_keys: dict[int, tuple[dict[str, Any], str, str]] = {}


def policy_key(snapshot: dict[str, Any]) -> tuple[str, str]:
    """The key of a frozen policy's JSON, and the text stored under it."""
    found = _keys.get(id(snapshot))
    if found is not None and found[0] is snapshot:
        return found[1], found[2]
    data = orjson.dumps(snapshot, option=orjson.OPT_SORT_KEYS)
    key, text = hashlib.sha256(data).hexdigest()[:32], data.decode()
    if len(_keys) >= _MEMO_SIZE:
        _keys.clear()
    _keys[id(snapshot)] = (snapshot, key, text)
    return key, text


def add_policies(conn: Connection, policies: dict[str, str]) -> None:
    """Store the frozen policies of ``policies`` (key -> JSON) that are not stored yet."""
    if policies:
        sql = "INSERT INTO oncall_policies (id, snapshot) VALUES (?, ?) ON CONFLICT (id) DO NOTHING"
        _write(conn, sql, list(policies.items()))


def add_paged(conn: Connection, pages: Collection[tuple[str, str, str]]) -> None:
    """Note where pages went: ``(escalation id, receiver, integration)`` each."""
    if pages:
        sql = (
            "INSERT INTO oncall_paged (escalation_id, receiver, integration) VALUES (?, ?, ?) "
            "ON CONFLICT (escalation_id, receiver, integration) DO NOTHING"
        )
        _write(conn, sql, sorted(pages))


def paged(conn: Connection, escalation_id: str) -> list[tuple[str, str]]:
    """Where the escalation's pages went: ``(receiver, integration)``, in order."""
    query = (
        select(oncall_paged.c.receiver, oncall_paged.c.integration)
        .where(oncall_paged.c.escalation_id == escalation_id)
        .order_by(oncall_paged.c.receiver, oncall_paged.c.integration)
    )
    return [(r, i) for r, i in conn.execute(query)]


def forget_paged_before(conn: Connection, cutoff: datetime) -> int:
    """Forget where pages went for escalations that are no group's current one, or
    whose group resolved before ``cutoff``: their resolution was told, or never will
    be (a hand-resolved group that re-opened, alerts gone from the store)."""
    current = select(oncall_groups.c.escalation_id).where(
        oncall_groups.c.escalation_id.is_not(None),
        (oncall_groups.c.status != "resolved") | (oncall_groups.c.updated_at >= to_micros(cutoff)),
    )
    found = conn.execute(delete(oncall_paged).where(oncall_paged.c.escalation_id.not_in(current)))
    return int(found.rowcount or 0)


def forget_paged(conn: Connection, escalation_ids: Sequence[str]) -> None:
    """Forget where these escalations' pages went (their resolutions told them)."""
    if escalation_ids:
        conn.execute(delete(oncall_paged).where(oncall_paged.c.escalation_id.in_(escalation_ids)))


def policy_snapshots(conn: Connection, keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """The frozen policies of ``keys``, as JSON (shared: do not change them). The memo
    is shared by threads: read with ``get``, never indexed after a check, since another
    thread may clear it in between."""
    found = {k: v for k in keys if (v := _snapshots.get(k)) is not None}
    missing = [k for k in keys if k not in found]
    if missing:
        if len(_snapshots) + len(missing) > _MEMO_SIZE:
            _snapshots.clear()
        sql = "SELECT id, snapshot FROM oncall_policies WHERE id IN (" + marks(len(missing)) + ")"
        for key, text in _fetch(conn, driver(conn, sql), missing):
            found[key] = _snapshots[key] = orjson.loads(text)
    return found


# --- the escalation step's own read and write ---------------------------------------------


class Ladder(Struct, frozen=True):
    """What an escalation step reads of its group: the ladder columns (times in
    microseconds, the frozen policy by its key)."""

    group_id: str
    status: str  # "" for a group without a lifecycle
    escalation_id: str | None  # the lifecycle's current escalation
    esc_id: str | None  # the running escalation (None: none)
    policy: str | None
    started: int | None
    step: int
    round: int
    fired: bool
    next_step: int | None
    next_round: int | None
    next_due: int | None
    opened_at: int  # the row's creation time: its audit lines carry it
    # SQLite's rowid of the group's row, valid in the transaction that read it (a
    # VACUUM may renumber rows): the ladder's UPDATE finds the row by it without a
    # seek in the group id's index. None on PostgreSQL.
    rowid: int | None = None


def _ladders_sql(conn: Connection, tail: str) -> str:
    """``SELECT`` of a :class:`Ladder`'s columns from ``oncall_groups`` then ``tail``."""
    rowid = "rowid" if conn.dialect.name == "sqlite" else "NULL"
    return f"SELECT group_id, {_LADDER_COLUMNS}, opened_at, {rowid} FROM oncall_groups{tail}"


def get_ladders(conn: Connection, group_ids: Collection[str]) -> dict[str, Ladder]:
    """The ladders of the groups of ``group_ids`` that have a row, by id."""
    if not group_ids:
        return {}
    found = _fetch(conn, *_in_groups(conn, _ladders_sql(conn, " WHERE {where}"), group_ids))
    return {r[0]: Ladder(*r) for r in found}


def update_ladders(
    conn: Connection, ladders: dict[tuple[Any, ...], list[Ladder]], updated_at: int, rev: int
) -> None:
    """Move ladders on: the ladders listed under each ``(step, round, fired, next step,
    next round, next due)`` (times in microseconds) take those values, one statement
    per distinct value: a storm's steps of one class move on together. On SQLite the
    rows are found by the rowids read with them."""
    if not ladders:
        return
    sqlite = conn.dialect.name == "sqlite"
    with raw_cursor(conn) as cursor:
        for values, moved in ladders.items():
            rowids = [lad.rowid for lad in moved]
            if sqlite and None not in rowids:
                sql, ids = _UPDATE_LADDER.format(where=_BY_ROWID), (orjson.dumps(rowids).decode(),)
            else:
                sql, ids = _in_groups(conn, _UPDATE_LADDER, [lad.group_id for lad in moved])
            cursor.execute(driver(conn, sql), (*values, updated_at, rev, *ids))


_UPDATE_LADDER = (
    "UPDATE oncall_groups SET esc_step = ?, esc_round = ?, esc_fired = ?, esc_next_step = ?, "
    "esc_next_round = ?, esc_next_due = ?, updated_at = ?, rev = ?, esc_lease = 0 WHERE {where}"
)
_BY_ROWID = "rowid IN (SELECT value FROM json_each(?))"


def _write(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """One ``executemany`` per batch (psycopg pipelines it), on the DBAPI cursor. A
    single statement over ``unnest`` of column arrays was tried on PostgreSQL:
    psycopg's adaptation of the arrays doubled the server's CPU per step and the
    backend did not get cheaper."""
    if rows:
        with raw_cursor(conn) as cursor:
            cursor.executemany(driver(conn, sql), rows)


class DueRow(Struct, frozen=True):
    id: str
    group_id: str
    kind: str  # "step" | "notify" | "lifecycle"
    due_at: datetime
    payload: dict[str, Any]
    done: bool = False  # acted on in the transaction that made it: not stored
    # a step taken from its group's ladder columns (not a stored row): the ladder read
    # with it (``id`` is then ``STEP_ID``)
    ladder: Ladder | None = None


STEP_ID = "ladder"
"""The id of a step taken from a ladder: it has no row of its own."""


def due_id(due_at: datetime) -> str:
    """A new due row's id: a UUIDv7-style value whose time field is the row's due time
    (not the time it was made), then 74 random bits.

    Unique across replicas as a uuid4 is (the random bits: ``random`` is seeded from the
    OS, and again in a forked child), yet the primary key index keeps rows that come
    due together next to each other: a batch's inserts and deletes touch a few pages of
    it, not one random page per row."""
    return due_id_from(due_id_prefix(due_at))


def due_id_from(prefix: str) -> str:
    """A new id that begins with ``prefix`` (:func:`due_id_prefix`): for a caller that
    makes many ids of one due time."""
    rand = getrandbits(74)  # 12 bits after the version digit, 62 after the variant
    return f"{prefix}{rand >> 62:03x}-{0x8000 | rand >> 48 & 0x3FFF:04x}-{rand & _LOW48:012x}"


_LOW48 = (1 << 48) - 1


def due_id_prefix(due_at: datetime) -> str:
    """What the ids of rows due at ``due_at`` begin with: the 48-bit Unix time in
    milliseconds and the version digit (7)."""
    millis = to_micros(due_at) // 1000 & 0xFFFF_FFFF_FFFF
    return f"{millis >> 16:08x}-{millis & 0xFFFF:04x}-7"


def add_due(conn: Connection, rows: Sequence[DueRow], values: Sequence[DueValues] = ()) -> None:
    """Store the pending rows of ``rows`` (those already acted on are not stored:
    nothing reads a finished row), and ``values``: rows already in the statement's
    form (see :func:`due_values`), in one statement."""
    made = [
        due_values(r.id, r.group_id, r.kind, to_micros(r.due_at), r.payload)
        for r in rows
        if not r.done
    ]
    insert_rows(conn, "oncall_due", _DUE_COLUMNS, [*made, *values])


DueValues = tuple[str, str, str, int, str, int, bool]
"""A pending due row in the order of :data:`_DUE_COLUMNS`."""
_DUE_COLUMNS = ("id", "group_id", "kind", "due_at", "payload", "lease_until", "done")


def due_values(
    row_id: str, group_id: str, kind: str, due_at: int, payload: dict[str, Any]
) -> DueValues:
    """A due row (due time in microseconds) as :func:`add_due` stores it."""
    return (row_id, group_id, kind, due_at, orjson.dumps(payload).decode(), 0, False)


def take_due(conn: Connection, now: datetime, limit: int) -> list[DueRow]:
    """Take up to about ``limit`` due rows and return them, for a caller that acts on
    them in this same transaction (so no lease is needed: if it rolls back, they are
    pending again; a row whose handling failed goes back with :func:`release_due`).

    The caller is a writer transaction, which began by bumping the revision counter
    (``store.revisions.next_revision``): that row lock, held to the commit, serializes
    every writer of every replica, and on PostgreSQL each statement after it sees what
    the writers before committed. So two takes never overlap, and the steps' read
    takes no row locks of its own: ``FOR UPDATE`` wrote a lock on every ladder it read,
    a fifth of a storm's backend time (``bench/step_cost.py``). The stored rows are
    deleted, which locks them anyway.

    Notifications come first, whatever their due time: in a storm a page decided
    seconds ago must not wait behind every step due before it. A notification waits,
    though, behind an earlier wake-up row of its own group (end of a snooze or of an
    ack's grace period), which may make the group fire again and so decide whether
    the notification still goes out. Then the rest, in due order: the steps the
    ladders await (read, not deleted: the caller moves each ladder on, or
    :func:`consume_steps` clears it) and the other due rows (deleted: a finished row
    is not kept, and a table of only pending rows keeps the indexes small). The two
    are cut at one due time, so what is taken is everything due up to it; that may be
    up to twice the rest of ``limit``.
    """
    micros = to_micros(now)
    pages = _take(conn, _TAKE_NOTIFY, (micros, micros, limit))
    if len(pages) >= limit:
        return pages
    rest = limit - len(pages)
    steps = _take_steps(conn, micros, rest)
    upto = steps[-1].due_at if len(steps) >= rest else now
    others = _take(conn, _TAKE_ANY, (to_micros(upto), micros, rest))
    if len(others) >= rest:  # everything due up to the last of these is taken
        steps = [s for s in steps if s.due_at <= others[-1].due_at]
    return pages + sorted([*others, *steps], key=_due_at)


def _due_at(row: DueRow) -> datetime:
    return row.due_at


def _take_steps(conn: Connection, now: int, limit: int) -> list[DueRow]:
    """The steps due by ``now`` that ladders await and that are not put off (failed,
    see :func:`release_due`), soonest first, as step rows."""
    sql = _take_steps_sql(conn)
    return [_awaited(Ladder(*r), r[11]) for r in _fetch(conn, sql, (now, now, limit))]


def _awaited(ladder: Ladder, due: int) -> DueRow:
    """The step ``ladder`` awaits (due at ``due``: its ``next_due``), as a step row."""
    payload = {
        "escalation_id": ladder.esc_id,
        "step_index": ladder.next_step,
        "round": ladder.next_round,
        "due_at": due,
    }
    return DueRow(STEP_ID, ladder.group_id, "step", from_micros(due), payload, False, ladder)


def _take_steps_sql(conn: Connection) -> str:
    # (no FOR UPDATE on PostgreSQL: the writer's revision lock serializes takes, see
    # take_due)
    if conn.dialect.name == "sqlite":
        tail = " INDEXED BY ix_oncall_groups_next_due" + _DUE_STEPS
        return _ladders_sql(conn, tail)
    return driver(conn, _ladders_sql(conn, _DUE_STEPS))


# (a step put off is skipped in the index's order: there are few, they fail)
_DUE_STEPS = (
    " WHERE esc_next_due IS NOT NULL AND esc_next_due <= ? AND esc_lease <= ? "
    "ORDER BY esc_next_due LIMIT ?"
)


def _take(conn: Connection, sql: str, params: tuple[int, ...]) -> list[DueRow]:
    if conn.dialect.name == "sqlite":
        sql = sql.format(lock="", notify=" INDEXED BY ix_oncall_due_notify", group=_BY_GROUP)
    else:
        sql = driver(conn, sql.format(lock=" FOR UPDATE SKIP LOCKED", notify="", group=""))
    found = _fetch(conn, sql, params)
    found.sort(key=lambda r: r[3])  # RETURNING keeps no order
    loads, micros = orjson.loads, from_micros
    return [DueRow(r[0], r[1], r[2], micros(r[3]), loads(r[4])) for r in found]


# For the stored rows the DELETE is the claim: one statement takes a whole batch and
# returns it.
# ``done = false`` is spelled as in the partial index ix_oncall_due_notify (SQLite uses
# a partial index only for a query that repeats its condition), and SQLite is told which
# index to use: without statistics it would walk the rows by due time to find the
# notifications, and walk every pending wake-up row due before a notification to find
# those of its group (ix_oncall_due_wakeup, partial: the pending wake-up rows by group).
# Rows are stored pending, ``done = false``, since finished rows are deleted; the
# column stays for the indexes' conditions and for older replicas.
_BY_GROUP = " INDEXED BY ix_oncall_due_wakeup"
_RETURNING = "RETURNING id, group_id, kind, due_at, payload"
_TAKE_ANY = (
    "DELETE FROM oncall_due WHERE id IN ("
    "SELECT id FROM oncall_due WHERE done = false AND due_at <= ? AND lease_until <= ? "
    "ORDER BY due_at LIMIT ?{lock}) " + _RETURNING
)
_TAKE_NOTIFY = (
    "DELETE FROM oncall_due WHERE id IN ("
    "SELECT c.id FROM oncall_due AS c{notify} WHERE c.kind = 'notify' AND c.done = false "
    "AND c.due_at <= ? AND c.lease_until <= ? AND NOT EXISTS ("
    "SELECT 1 FROM oncall_due AS w{group} WHERE w.group_id = c.group_id "
    "AND w.kind = 'lifecycle' AND w.done = false AND w.due_at < c.due_at) "
    "ORDER BY c.due_at LIMIT ?{lock}) " + _RETURNING
)


def consume_steps(conn: Connection, steps: Sequence[DueRow]) -> None:
    """Clear the awaited step of the ladders of ``steps`` (taken from ladders) that
    still await exactly it: a taken step that did nothing (stale: the group is not
    firing, or its escalation changed) leaves its ladder as it was, and must not be
    taken again. A ladder the step moved on, or another write changed, is left alone."""
    rows = [
        (s.group_id, s.ladder.esc_id, s.ladder.next_step, s.ladder.next_round, s.ladder.next_due)
        for s in steps
        if s.ladder is not None
    ]
    _write(conn, _CONSUME, rows)


_AWAITS = "group_id = ? AND esc_id = ? AND esc_next_step = ? AND esc_next_round = ? "
_CONSUME = (
    "UPDATE oncall_groups SET esc_next_step = NULL, esc_next_round = NULL, "
    f"esc_next_due = NULL, esc_lease = 0 WHERE {_AWAITS}AND esc_next_due = ?"
)


def release_due(conn: Connection, rows: Sequence[DueRow], retry_at: datetime) -> None:
    """Put taken rows back, not to be taken again before ``retry_at``: a stored row
    with a lease, and a step taken from its ladder with its ladder's lease (if the
    ladder still awaits exactly it). Both keep their due time: the worker's overdue
    gauge and lateness metric count from it."""
    lease = to_micros(retry_at)
    payload = orjson.dumps
    values = [
        (r.id, r.group_id, r.kind, to_micros(r.due_at), payload(r.payload).decode(), lease, False)
        for r in rows
        if r.ladder is None
    ]
    insert_rows(conn, "oncall_due", _DUE_COLUMNS, values)
    steps = [
        (
            lease,
            s.group_id,
            s.ladder.esc_id,
            s.ladder.next_step,
            s.ladder.next_round,
            s.ladder.next_due,
        )
        for s in rows
        if s.ladder is not None
    ]
    _write(conn, _PUT_OFF, steps)


_PUT_OFF = f"UPDATE oncall_groups SET esc_lease = ? WHERE {_AWAITS}AND esc_next_due = ?"


def pending_due(conn: Connection, group_id: str) -> list[DueRow]:
    """The group's pending rows, in due order, with the step its ladder awaits. For
    the group's page, not a hot path: it walks the pending rows (there is no index by
    group but that of the wake-up rows; finished rows are deleted, so there are few)."""
    query = (
        select(oncall_due)
        .where(and_(oncall_due.c.group_id == group_id, oncall_due.c.done.is_(False)))
        .order_by(oncall_due.c.due_at)
    )
    rows = [
        DueRow(r.id, r.group_id, r.kind, from_micros(r.due_at), orjson.loads(r.payload))
        for r in conn.execute(query)
    ]
    ladder = get_ladders(conn, [group_id]).get(group_id)
    if ladder is not None and ladder.next_due is not None:
        rows.append(_awaited(ladder, ladder.next_due))
    return sorted(rows, key=_due_at)


def add_audit(conn: Connection, group_id: str, entries: Sequence[AuditEntry]) -> None:
    add_audits(conn, [(group_id, e) for e in entries])


def add_audits(
    conn: Connection,
    entries: Sequence[tuple[str, AuditEntry]],
    values: Sequence[AuditValues] = (),
) -> None:
    """Insert ``(group id, entry)`` pairs (one ``executemany``), ids in this order, then
    ``values``: lines already in the columns' form (see :func:`audit_values`; one
    ``insert_rows``)."""
    rows = [
        (
            group_id,
            to_micros(e.at),
            e.who,
            e.via.value,
            e.action,
            e.comment,
            orjson.dumps(e.to_json()).decode(),
            group_id,
        )
        for group_id, e in entries
    ]
    _write(conn, _ADD_AUDIT, rows)
    insert_rows(conn, "audit", _AUDIT_COLUMNS, values)


AuditValues = tuple[str, int, str, str, str, str, str, int]
"""An audit line in the order of :data:`_AUDIT_COLUMNS`."""


def audit_values(group_id: str, opened_at: int, entry: dict[str, Any]) -> AuditValues:
    """A line of ``group_id``'s trail from its entry's JSON (``AuditEntry.to_json``)
    and its group row's ``opened_at`` (which the caller read with the group), as
    :func:`add_audits` would store the entry: the columns repeat the JSON's fields."""
    detail = orjson.dumps(entry).decode()
    return (
        group_id,
        entry["at"],
        entry["who"],
        entry["via"],
        entry["action"],
        entry["comment"],
        detail,
        opened_at,
    )


# A line carries its group's ``opened_at`` (0 without a group row: a schedule's), read
# by the statement itself; a group made in the same transaction is written first.
_OPENED = "COALESCE((SELECT opened_at FROM oncall_groups WHERE group_id = ?), 0)"
_AUDIT_COLUMNS = ("group_id", "at", "actor", "channel", "action", "comment", "detail", "opened_at")
_ADD_AUDIT = (
    f"INSERT INTO audit ({', '.join(_AUDIT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, {_OPENED})"
)


def audit_of(conn: Connection, group_id: str) -> list[dict[str, Any]]:
    sql = (
        "SELECT at, actor, channel, action, comment, detail FROM audit "
        # 0 as well: a line written without the column (by a replica older than
        # migration 0012, during an upgrade) has the column's default
        f"WHERE opened_at IN (0, {_OPENED}) AND group_id = ? ORDER BY id"
    )
    return [
        {
            "at": from_micros(at),
            "actor": actor,
            "channel": channel,
            "action": action,
            "comment": comment,
            "detail": orjson.loads(detail),
        }
        for at, actor, channel, action, comment, detail in _fetch(
            conn, driver(conn, sql), (group_id, group_id)
        )
    ]


def add_override(conn: Connection, o: Override, created_by: str) -> None:
    conn.execute(
        insert(schedule_overrides).values(
            id=o.id,
            schedule=o.schedule,
            person=o.person,
            starts_at=to_micros(o.start),
            ends_at=to_micros(o.end),
            created_at=to_micros(o.created_at),
            created_by=created_by,
            replaces=o.replaces,
        )
    )


def overrides(conn: Connection, schedule: str | None = None) -> list[Override]:
    query = select(schedule_overrides)
    if schedule is not None:
        query = query.where(schedule_overrides.c.schedule == schedule)
    return [
        Override(
            id=r.id,
            schedule=r.schedule,
            person=r.person,
            start=from_micros(r.starts_at),
            end=from_micros(r.ends_at),
            created_at=from_micros(r.created_at),
            replaces=r.replaces,
        )
        for r in conn.execute(query.order_by(schedule_overrides.c.created_at))
    ]


def delete_override(conn: Connection, override_id: str) -> bool:
    result = conn.execute(delete(schedule_overrides).where(schedule_overrides.c.id == override_id))
    return bool(result.rowcount)


def next_due_from(conn: Connection, now: datetime) -> datetime | None:
    """The soonest pending due time from ``now`` on (rows and awaited steps), for the
    worker's sleep (rows due earlier but not taken, leased or waiting behind their
    group's wake-up, are tried again at the worker's next poll)."""
    micros = to_micros(now)
    rows = conn.execute(
        select(func.min(oncall_due.c.due_at)).where(
            oncall_due.c.done.is_(False), oncall_due.c.due_at >= micros
        )
    ).scalar()
    steps = _fetch(conn, driver(conn, _NEXT_STEP + " AND esc_next_due >= ?"), (micros,))[0][0]
    return _soonest(rows, steps)


def oldest_pending_due(conn: Connection) -> datetime | None:
    """The earliest due time of the pending rows and awaited steps (in the past: the
    worker is behind)."""
    rows = conn.execute(
        select(func.min(oncall_due.c.due_at)).where(oncall_due.c.done.is_(False))
    ).scalar()
    steps = _fetch(conn, _NEXT_STEP, ())[0][0]
    return _soonest(rows, steps)


# (the partial index ix_oncall_groups_next_due answers it: its condition is repeated)
_NEXT_STEP = "SELECT min(esc_next_due) FROM oncall_groups WHERE esc_next_due IS NOT NULL"


def _soonest(*micros: int | None) -> datetime | None:
    found = [int(m) for m in micros if m is not None]
    return from_micros(min(found)) if found else None
