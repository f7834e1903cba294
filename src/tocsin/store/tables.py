"""SQLAlchemy Core tables: the single source of truth for the schema.

Times are integer microseconds since the epoch (see ``tocsin.timeutil``); label sets,
annotations and matchers are JSON text, encoded with orjson, so the same rows read the
same on SQLite and PostgreSQL. Alembic migrations in ``store/migrations`` create these.
Each row carries ``rev``, the revision of the transaction that last wrote it, so that
every process sharing the database can catch up on what the others wrote.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(16), primary_key=True),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("timeout", Boolean, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_alerts_ends_at", "ends_at"),
    Index("ix_alerts_rev", "rev"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_silences_ends_at", "ends_at"),
    Index("ix_silences_rev", "rev"),
)

# One row: the revision of the newest committed write transaction. Every writer bumps it
# first thing in its transaction, which also serializes writers (a row lock on
# PostgreSQL, the write lock on SQLite), so revisions commit in order.
revisions = Table(
    "revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rev", BigInteger, nullable=False),
)

# Notifications decided and not yet delivered (and, for the log, delivered). A row is
# committed before any send is tried; the delivery worker leases it (``lease_until``)
# while sending, so a crash mid-send leaves a lease that expires and the row is sent
# again: at least once, never zero times, with the same idempotency key.
outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("receiver", Text, nullable=False),
    Column("integration", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_created", "created_at"),
    # a late item's group: was a newer notification decided since? (migration 0024)
    Index("ix_outbox_group", "group_key", "created_at"),
)

# Every delivery attempt, whatever its outcome: the notification log users read.
delivery_log = Table(
    "delivery_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("outbox_id", String(36), nullable=False),
    Column("receiver", Text, nullable=False),
    Column("integration", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("message", Text, nullable=False),
    Column("duration_us", BigInteger, nullable=False),
    Index("ix_delivery_log_outbox", "outbox_id"),
    Index("ix_delivery_log_at", "at"),
)

# Aggregation group timers. The groups themselves (which alerts they hold) are derived
# from the alerts by routing, in memory; what must survive a restart and be shared by
# replicas is when each group flushes next, and whether it has flushed before. A
# replica's flush moves the row's due time on in the flush's own transaction (the row
# read FOR UPDATE), so a group is flushed once, not once per replica. ``lease_until``
# is no longer set (always 0; older versions leased the row for the flush).
agg_groups = Table(
    "agg_groups",
    metadata,
    Column("route_id", Text, primary_key=True),
    Column("group_key", Text, primary_key=True),
    Column("receiver", Text, nullable=False),
    Column("next_flush_at", BigInteger, nullable=False),
    Column("has_flushed", Boolean, nullable=False),
    Column("lease_until", BigInteger, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_agg_groups_next_flush_at", "next_flush_at"),
)

# The notification log (Alertmanager's nflog): per group and receiver integration, what
# was last notified, for the dedup decision.
nflog = Table(
    "nflog",
    metadata,
    Column("group_key", Text, primary_key=True),
    Column("receiver", Text, primary_key=True),
    Column("integration", Text, primary_key=True),
    Column("entry", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # the transaction that wrote the entry: a dispatcher caching the log asks which
    # entries other replicas wrote since its last look
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_nflog_updated_at", "updated_at"),
    Index("ix_nflog_rev", "rev"),
)

# Runbooks: the Markdown as written (from a configured path or PUT through the API), one
# row each; their sections are indexed for full-text search (an FTS5 table on SQLite, a
# tsvector column on PostgreSQL: see migration 0005 and ``runbook_rows``).
runbooks = Table(
    "runbooks",
    metadata,
    Column("name", Text, primary_key=True),
    Column("source", Text, nullable=False),  # a file path, or "api"
    Column("text", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
)

# On-call: the lifecycle state of each alert group that has an escalation policy
# (firing / acknowledged / snoozed / resolved, and its frozen escalation), keyed by the
# group's short id, with its escalation's awaited step; the due-time rows of pages due
# later and of wake-ups (ends of snoozes and grace periods);
# schedule overrides made through the API; and the audit trail.
oncall_groups = Table(
    "oncall_groups",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("route_id", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("receiver", Text, nullable=False),
    # the state as JSON, without its escalation's ladder, which the columns below hold
    # (migration 0011): an escalation step reads and writes those columns alone
    Column("state", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    # the lifecycle's status and current escalation (copies of the state's, written with
    # it: what decides whether an awaited step is stale)
    Column("status", String(16), nullable=False, server_default=""),
    Column("escalation_id", String(64), nullable=True),
    # the running escalation: its id (NULL: none), its frozen policy (a key of
    # oncall_policies), when it started, the current step, and the one step it awaits
    # (NULL: none), which the worker takes when it is due (there is no row for it)
    Column("esc_id", String(64), nullable=True),
    Column("esc_policy", String(64), nullable=True),
    Column("esc_started", BigInteger, nullable=True),
    Column("esc_step", Integer, nullable=False, server_default="0"),
    Column("esc_round", Integer, nullable=False, server_default="0"),
    Column("esc_fired", Boolean, nullable=False, server_default=text("false")),
    Column("esc_next_step", Integer, nullable=True),
    Column("esc_next_round", Integer, nullable=True),
    Column("esc_next_due", BigInteger, nullable=True),
    # a failed awaited step is not taken again before this time (microseconds; 0: no
    # lease). It keeps its due time, so the overdue gauge and the lateness metric see
    # how late it is; every write that moves the ladder on clears it (migration 0014)
    Column("esc_lease", BigInteger, nullable=False, server_default="0"),
    # when the row was made (never changed): the audit's index leads with it, so the
    # audit lines of groups opened together (a storm's) sit together (migration 0012)
    Column("opened_at", BigInteger, nullable=False, server_default="0"),
    # the awaited steps in due order: the on-call worker takes due steps from here
    # (migration 0013: a step is not a due row)
    Index(
        "ix_oncall_groups_next_due",
        "esc_next_due",
        sqlite_where=text("esc_next_due IS NOT NULL"),
        postgresql_where=text("esc_next_due IS NOT NULL"),
    ),
    # a group found again by its key and receiver after a reload moved its route's
    # position, and with it the id computed for it (migration 0019)
    Index("ix_oncall_groups_key", "group_key", "receiver"),
    # the groups whose runbook timers may run: open, or resolved lately (migration 0023)
    Index("ix_oncall_groups_status", "status", "updated_at"),
)

# Frozen escalation policies, stored once per content (the key is a hash of the JSON)
# rather than in every group that escalates with one.
oncall_policies = Table(
    "oncall_policies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("snapshot", Text, nullable=False),
)

oncall_due = Table(
    "oncall_due",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("payload", Text, nullable=False),
    Column("lease_until", BigInteger, nullable=False),
    Column("done", Boolean, nullable=False),
    Index("ix_oncall_due_due", "done", "due_at"),
    # pending pages in due order, taken before steps (migration 0008)
    Index(
        "ix_oncall_due_notify",
        "due_at",
        sqlite_where=text("kind = 'notify' AND done = false"),
        postgresql_where=text("kind = 'notify' AND done = false"),
    ),
    # pending wake-up rows (ends of snoozes and acknowledgement grace periods) by group:
    # migration 0010; finished rows are deleted, not kept
    Index(
        "ix_oncall_due_wakeup",
        "group_id",
        "due_at",
        sqlite_where=text("kind = 'lifecycle' AND done = false"),
        postgresql_where=text("kind = 'lifecycle' AND done = false"),
    ),
)

# Where each escalation's pages went: one row per (receiver, integration) a page was
# built for (``person:NAME`` for a person), so that the group's resolution tells those
# same people and channels, once each (migration 0022). Forgotten once told.
oncall_paged = Table(
    "oncall_paged",
    metadata,
    Column("escalation_id", String(64), primary_key=True),
    Column("receiver", Text, primary_key=True),
    Column("integration", Text, primary_key=True),
)

schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("schedule", Text, nullable=False),
    Column("person", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("replaces", Text, nullable=True),
    Index("ix_schedule_overrides_schedule", "schedule", "ends_at"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("comment", Text, nullable=False),
    Column("detail", Text, nullable=False),
    # the group's ``opened_at`` (0 for a schedule's lines): a group's lines are found
    # by (opened_at, group_id); an index led by the group id alone put every
    # escalation step's line on a random page of it (migration 0012)
    Column("opened_at", BigInteger, nullable=False, server_default="0"),
    Index("ix_audit_opened", "opened_at", "group_id", "id"),
)

# Small server-wide values shared by replicas (the secret that signs action links).
settings_kv = Table(
    "settings_kv",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# People defined or updated through the API (contact methods, notification rules); an
# entry here takes precedence over the config file's person of the same name.
people = Table(
    "people",
    metadata,
    Column("name", Text, primary_key=True),
    Column("definition", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Heartbeats (``tocsin.monitors.heartbeats``): when Tocsin first knew each one (its
# deadline before any ping counts from then) and its last ping, committed before the
# ping is answered.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", Text, primary_key=True),
    Column("armed_at", BigInteger, nullable=False),
    Column("last_ping_at", BigInteger, nullable=True),
    Column("last_kind", String(8), nullable=True),  # "ok" or "fail"
    Column("message", Text, nullable=False, server_default=""),
    Column("pings", BigInteger, nullable=False, server_default="0"),
    Column("started_at", BigInteger, nullable=True),  # its job's last start, until a ping
    Column("last_duration", Float, nullable=True),  # seconds, from a start to its ping
    Column("rev", BigInteger, nullable=False, server_default="0"),
)

# Probes (``tocsin.monitors.probes``): when each is next requested, the lease of the
# replica requesting it (one request per interval, however many replicas), and the run
# of results that decides its alert.
probes = Table(
    "probes",
    metadata,
    Column("name", Text, primary_key=True),
    Column("next_due", BigInteger, nullable=False),
    Column("lease_until", BigInteger, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("down_since", BigInteger, nullable=True),
    Column("last_at", BigInteger, nullable=True),
    Column("last_ok", Boolean, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("last_seconds", Float, nullable=True),
    Column("last_ok_at", BigInteger, nullable=True),
    Column("last_cert_expires", BigInteger, nullable=True),
    Column("runs", BigInteger, nullable=False, server_default="0"),
    # what the results were got as (monitors.probes.spec_key): another starts afresh
    Column("spec", Text, nullable=False, server_default=""),
    Column("rev", BigInteger, nullable=False, server_default="0"),
)

# Incidents (``tocsin.incidents``): one row each, its roles and linked alert groups as
# JSON text; ``status`` is indexed for the open ones the reminders read every round.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("title", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default=text("false")),
    Column("roles", Text, nullable=False, server_default="{}"),
    Column("groups", Text, nullable=False, server_default="[]"),
    Column("components", Text, nullable=False, server_default="[]"),
    Column("told", Text, nullable=False, server_default="[]"),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("last_update_at", BigInteger, nullable=True),
    Column("severity_at", BigInteger, nullable=True),
    Column("postmortem", Text, nullable=False, server_default=""),
    Column("postmortem_at", BigInteger, nullable=True),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    # when it was last reopened (migration 0020): its IncidentOpen alert starts then
    Column("reopened_at", BigInteger, nullable=True),
    Index("ix_incidents_status", "status", "opened_at"),
)

# Each incident's timeline, in the order it was written; ``public`` lines are its
# status-page updates.
incident_timeline = Table(
    "incident_timeline",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("incident_id", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("public", Boolean, nullable=False, server_default=text("false")),
    Index("ix_incident_timeline_incident", "incident_id", "id"),
)


# Planned maintenance windows (``tocsin.incidents.maintenance``): the status page reads
# those ending after a week ago, by ``ends_at``; matchers and components are JSON text.
maintenances = Table(
    "maintenances",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("components", Text, nullable=False, server_default="[]"),
    Column("matchers", Text, nullable=False, server_default="[]"),
    Column("public", Boolean, nullable=False, server_default=text("true")),
    Column("silence_id", Text, nullable=False, server_default=""),
    Column("cancelled_at", BigInteger, nullable=True),
    # its start and its end announced (by the loop, or by the change that ended it)
    Column("told_start", Boolean, nullable=False, server_default=text("false")),
    Column("told_end", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", BigInteger, nullable=True),
    Column("rev", BigInteger, nullable=False, server_default="0"),
    Index("ix_maintenances_ends_at", "ends_at"),
)

# Each replica's last sign of life (``replica_rows``): the cluster /api/v2/status shows,
# as Alertmanager's gossip peers, and ``tocsin_cluster_members``.
replicas = Table(
    "replicas",
    metadata,
    Column("name", Text, primary_key=True),  # its instance name and listen address
    Column("address", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
)
