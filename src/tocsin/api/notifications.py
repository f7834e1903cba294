"""Tocsin's own API for the notification log: what was decided, and every attempt."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tocsin.api.state import runtime
from tocsin.notify.outbox import DeliveryStatus, OutboxItem
from tocsin.store import outbox_rows
from tocsin.timeutil import format_rfc3339

router = APIRouter(prefix="/api/v1")


def _item(item: OutboxItem, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    n = item.notification
    return {
        "id": item.id,
        "receiver": item.receiver,
        "integration": item.integration,
        "groupKey": item.group_key,
        "groupLabels": n.group_labels,
        "idempotencyKey": item.idempotency_key,
        "status": item.status.value,
        "attempts": item.attempts,
        "createdAt": format_rfc3339(item.created_at),
        "nextAttemptAt": format_rfc3339(item.next_attempt_at),
        "lastError": item.last_error,
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "labels": a.labels,
                "status": "resolved" if a.resolved(n.now) else "firing",
            }
            for a in n.alerts
        ],
        "log": [{**a, "at": format_rfc3339(a["at"])} for a in attempts],
    }


@router.get("/notifications", summary="Notifications decided, newest first, with attempts")
def list_notifications(
    request: Request,
    receiver: str | None = None,
    status: DeliveryStatus | None = None,
    group: str | None = Query(None, description="Only the group with this group key."),
    before: str | None = Query(
        None, description="Only those listed after the notification with this id: the next page."
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    """Newest first. ``before`` the id of a page's last notification gives the next."""
    rt = runtime(request)
    with rt.engine.connect() as conn:
        if before and outbox_rows.get(conn, before) is None:
            said = f"before: no notification {before!r}"
            return Response(orjson.dumps(said), 400, media_type="application/json")
        items = outbox_rows.recent(
            conn, limit, receiver, status=status, group_key=group, before=before
        )
        logs = outbox_rows.attempts_of_items(conn, [i.id for i in items])
        body = [_item(i, logs[i.id]) for i in items]
    return Response(orjson.dumps(body), media_type="application/json")
