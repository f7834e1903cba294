"""Operational endpoints: Alertmanager's /-/healthy, /-/ready, /-/reload, and /metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tocsin.api.state import runtime

router = APIRouter()


@router.get("/-/healthy", response_class=PlainTextResponse)
@router.head("/-/healthy", response_class=PlainTextResponse)
def healthy() -> str:
    return "OK"


@router.get("/-/ready", response_class=PlainTextResponse)
@router.head("/-/ready", response_class=PlainTextResponse)
def ready(request: Request) -> Response:
    """503 while this process cannot reach the database (its commits, or its reads of
    what other replicas commit, fail): a load balancer then sends alerts to a replica
    that can store them. Told by the failures themselves, not by a probe query that
    could hang on a database that does not answer."""
    rt = runtime(request)
    for outage in (rt.writer.outage, rt.follow.outage):
        if outage.failing:
            return PlainTextResponse(f"not ready: {outage.last_error}", status_code=503)
    # a commit that hangs fails nothing: its age says it (every alert posted here waits)
    stalled = rt.writer.stalled()
    if stalled:
        return PlainTextResponse(
            f"not ready: a database commit has been waiting for {stalled:.0f}s (a lock "
            "another replica holds, or a network that stopped answering)",
            status_code=503,
        )
    return PlainTextResponse("OK")


@router.post("/-/reload", response_class=PlainTextResponse)
async def reload(request: Request) -> Response:
    rt = runtime(request)
    try:
        await asyncio.to_thread(rt.reload)
    except Exception as exc:
        return PlainTextResponse(f"failed to reload config: {exc}", status_code=500)
    return PlainTextResponse("")


@router.get("/metrics")
def metrics(request: Request) -> Response:
    rt = runtime(request)
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
