"""``tocsin serve`` runs on uvloop: ``uvicorn.Server.serve`` does not pick it by itself."""

from __future__ import annotations

import asyncio

import uvloop

from tocsin.cli.serve_cmd import event_loop_factory


def test_serve_runs_on_uvloop() -> None:
    factory = event_loop_factory()
    assert factory is uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, uvloop.Loop)
        assert runner.run(asyncio.sleep(0, result="ran")) == "ran"
