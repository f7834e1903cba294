"""Who the people are: the config's ``people``, updated through the API.

A person PUT through the API (contact methods, notification rules) is stored and takes
precedence over the config file's entry of the same name; deleting it goes back to the
file's. Both are validated by the same decoder and checks. Escalations and pages always
look people up here, so an updated phone-number-of-the-week takes effect at the next page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

import orjson
import yaml
from sqlalchemy import Connection, Engine, delete, select

from tocsin.config import Config, ConfigError, ConfigProblem
from tocsin.config.loader import parse_section
from tocsin.config.oncall import Person
from tocsin.config.validate import unreachable
from tocsin.store.tables import people
from tocsin.store.upsert import upsert
from tocsin.store.writer import GroupCommitter, Txn
from tocsin.timeutil import Clock, to_micros

log = logging.getLogger(__name__)


@dataclass
class _Put:
    name: str
    definition: str
    at: int

    def apply(self, txn: Txn) -> None:
        upsert(txn.conn, people, [(self.name, self.definition, self.at)], key="name")


@dataclass
class _Delete:
    name: str

    def apply(self, txn: Txn) -> bool:
        return bool(txn.conn.execute(delete(people).where(people.c.name == self.name)).rowcount)


def _load(conn: Connection) -> dict[str, Person]:
    """The stored people. One that a newer Tocsin's checks refuse (it was stored by an
    older one) is left out, with an error in the log, so the config file's entry of
    that name is in force: a stored row must never stop the server from starting."""
    found: dict[str, Person] = {}
    for r in conn.execute(select(people.c.name, people.c.definition)):
        try:
            found[r.name] = parse_section(r.definition, Person)
        except ConfigError as exc:
            log.error(
                "person %r stored through the API is no longer valid, ignored: %s", r.name, exc
            )
    return found


# GET /api/v1/people/NAME answers in the API's camelCase; a PUT of what it answered
# (edited) must work, so its keys are read as the config file's. "source" says where
# the definition came from: read-only, and left out.
_API_KEYS = {
    "fullName": "full_name",
    "slackUser": "slack_user",
    "timeZone": "time_zone",
    "notificationRules": "notification_rules",
}


def as_config_keys(data: dict[str, object]) -> dict[str, object]:
    return {_API_KEYS.get(k, k): v for k, v in data.items() if k != "source"}


class PeopleDirectory:
    def __init__(
        self, engine: Engine, writer: GroupCommitter, clock: Clock, config: Callable[[], Config]
    ) -> None:
        self._engine = engine
        self._writer = writer
        self._clock = clock
        self._config = config
        self._lock = threading.Lock()
        self._api: dict[str, Person] = {}

    def refresh(self) -> None:
        with self._engine.connect() as conn:
            found = _load(conn)
        with self._lock:
            self._api = found

    def get(self, name: str) -> Person | None:
        with self._lock:
            found = self._api.get(name)
        return found if found is not None else self._config().person(name)

    def find(self, name: str) -> Person | None:
        """:meth:`get`, reading the stored people again when ``name`` is not known here
        (it reads the database: call it off the event loop). A person just PUT through
        another replica is found at once, not only at the follow loop's next round:
        people are PUT to be given an override or a calendar right away."""
        found = self.get(name)
        if found is None:
            self.refresh()
            found = self.get(name)
        return found

    def names(self) -> list[str]:
        """Everyone's name, the file's and the API's (for a did-you-mean)."""
        return [p.name for p, _ in self.all()]

    def all(self) -> list[tuple[Person, str]]:
        """Every person, with where the definition in force comes from."""
        with self._lock:
            api = dict(self._api)
        listed = self._config().people
        out = [(api.get(p.name, p), "api" if p.name in api else "config") for p in listed]
        known = {p.name for p in self._config().people}
        out += [(p, "api") for name, p in sorted(api.items()) if name not in known]
        return out

    def by_slack_user(self, handles: Collection[str]) -> Person | None:
        """The person whose ``slack_user`` is one of ``handles`` (a Slack user's id,
        user name: what a button press says of who pressed it), or None."""
        wanted = {h.lstrip("@") for h in handles if h}
        return next(
            (p for p, _ in self.all() if p.slack_user and p.slack_user.lstrip("@") in wanted),
            None,
        )

    async def put(self, name: str, body: bytes) -> Person:
        """Validate and store a person (JSON or YAML); raises ConfigError naming the
        field. The name comes from the URL."""
        text = body.decode("utf-8", errors="replace")
        try:
            # no aliases: 300 bytes of nested ones expand to gigabytes (a YAML bomb),
            # and a person's definition never needs one
            alias = next((e for e in yaml.parse(text) if isinstance(e, yaml.AliasEvent)), None)
            if alias is not None:
                line = 1 if alias.start_mark is None else alias.start_mark.line + 1
                why = f"an alias (*{alias.anchor}): aliases are not accepted here"
                raise ConfigError([ConfigProblem("<request>", line, "(syntax)", why)])
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError([ConfigProblem("<request>", 1, "(syntax)", str(exc))]) from None
        if not isinstance(data, dict):
            raise ConfigError([ConfigProblem("<request>", 1, "(document)", "must be a mapping")])
        data = as_config_keys(data)
        if "contacts_via_api" in data:
            why = "only a person in the config file says their contacts come from here"
            raise ConfigError([ConfigProblem("<request>", 1, "contacts_via_api", why)])
        definition = orjson.dumps({**data, "name": name}, default=str).decode()
        person = parse_section(definition, Person)  # the same checks as the file's people
        problem = unreachable(person, self._config())
        if problem is not None:
            raise ConfigError([ConfigProblem("<request>", 1, name, problem)])
        await self._writer.run(_Put(name, definition, to_micros(self._clock())))
        self.refresh()
        stored = self.get(name)
        assert stored is not None
        return stored

    async def delete(self, name: str) -> bool:
        """Forget the API's definition of ``name``; raises ConfigError when the file's
        entry left in force could not reach them and escalation can page them."""
        self.refresh()  # another replica may have PUT them since
        filed = self._config().person(name)
        if filed is not None and filed.contacts_via_api and name in self._api:
            problem = unreachable(filed, self._config())
            if problem is not None:
                why = f"{problem} once the API's contacts are gone; PUT new ones instead"
                raise ConfigError([ConfigProblem("<request>", 1, name, why)])
        removed: bool = await self._writer.run(_Delete(name))
        self.refresh()
        return removed

    def unreachable(self) -> list[str]:
        """Why people escalation can page would not be reached, one line each: the
        file's people whose contacts should come from the API but do not (yet).
        check-config cannot see the API; the server says so at start and reload."""
        config = self._config()
        with self._lock:
            api = set(self._api)
        return [
            problem
            for p in config.people
            if p.contacts_via_api and p.name not in api
            for problem in [unreachable(p, config)]
            if problem is not None
        ]
