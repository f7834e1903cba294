"""Alertmanager's API v1 (deprecated there, removed in 0.27): silences and alerts, in its
``{"status": "success", "data": ...}`` envelope.

Runbooks and maintenance scripts written against an Alertmanager of before 0.27 post
silences to ``/api/v1/silences``; at 3 a.m. that command has to work as written. Each
handler decodes what v1 accepts (a silence with no ``startsAt`` starts now, and needs
no ``createdBy`` or ``comment``) and goes through the same store as v2.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tocsin.alerts.silences import SilenceError
from tocsin.api import encode, ingest
from tocsin.api.silence_input import decode_silence
from tocsin.api.state import runtime
from tocsin.api.v2 import BodyTooLarge, expire_silence, json_response, read_body
from tocsin.core.alert_store import AlertQuery
from tocsin.timeutil import format_rfc3339

router = APIRouter(prefix="/api/v1", tags=["Alertmanager API v1 (deprecated)"])


def success(data: Any = None) -> Response:
    body: dict[str, Any] = {"status": "success"}
    if data is not None:
        body["data"] = data
    return json_response(body)


def bad_data(message: str, status: int = 400) -> Response:
    return json_response({"status": "error", "errorType": "bad_data", "error": message}, status)


@router.post("/silences", summary="Post a new silence or update one (v1)")
async def post_silence(request: Request) -> Response:
    rt = runtime(request)
    try:
        data = orjson.loads(await read_body(request, rt.settings.max_body_bytes))
    except BodyTooLarge:
        return bad_data(f"body exceeds the limit of {rt.settings.max_body_bytes} bytes", 413)
    except orjson.JSONDecodeError as exc:
        return bad_data(f"body is not valid JSON: {exc}")
    now = rt.clock()
    if isinstance(data, dict):
        starts = data.get("startsAt")
        if not starts or starts == "0001-01-01T00:00:00Z":  # v1 starts those now
            starts = format_rfc3339(now)
        data = {
            **data,
            "startsAt": starts,
            "createdBy": data.get("createdBy") or "",
            "comment": data.get("comment") or "",
        }
    try:
        silence_id = await rt.store.set_silence(decode_silence(data, now))
    except SilenceError as exc:  # SilenceNotFound too: v1 answers every refusal bad_data
        return bad_data(str(exc))
    return success({"silenceId": silence_id})


@router.get("/silences", summary="Get a list of silences (v1)")
def get_silences(request: Request) -> Response:
    rt = runtime(request)
    now = rt.clock()
    return success([encode.silence(s, now) for s in rt.store.list_silences([])])


@router.get("/silence/{silence_id}", summary="Get a silence by its ID (v1)")
def get_silence(request: Request, silence_id: str) -> Response:
    rt = runtime(request)
    found = rt.store.get_silence(silence_id)
    if found is None:
        return bad_data(f"silence {silence_id} not found", 404)
    return success(encode.silence(found, rt.clock()))


@router.delete("/silence/{silence_id}", summary="Expire a silence by its ID (v1)")
async def delete_silence(request: Request, silence_id: str) -> Response:
    if not await expire_silence(runtime(request), silence_id):
        return bad_data("silence not found")
    return success()


@router.post("/alerts", summary="Create new alerts (v1)")
async def post_alerts(request: Request) -> Response:
    rt = runtime(request)
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
    except BodyTooLarge:
        return bad_data(f"body exceeds the limit of {rt.settings.max_body_bytes} bytes", 413)
    status, payload = await ingest.ingest(rt, body)
    if status == 200:
        return success()
    return bad_data(orjson.loads(payload), status)


@router.get("/alerts", summary="Get a list of alerts (v1)")
def get_alerts(request: Request) -> Response:
    rt = runtime(request)
    out = []
    for view in rt.store.views(AlertQuery()):
        shown = encode.alert(view)
        shown["receivers"] = list(view.receivers)  # v1: names, not objects
        out.append(shown)
    return success(out)
