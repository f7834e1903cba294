"""``tocsin serve``: run the server.

The server's modules (FastAPI, uvicorn, the runtime) are imported when the command runs,
not when the CLI starts: every client command (``tocsin alert list``...) would otherwise
pay a second of imports it never uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tocsin import __version__, logs
from tocsin.alerts.labels import NameValidation
from tocsin.cli.output import fail
from tocsin.config.durations import parse_duration
from tocsin.defaults import DEFAULT_LISTEN, DEFAULT_MAX_BODY, EXAMPLE_CONFIG
from tocsin.engine.loop import OnLoop
from tocsin.logs import LogFormat
from tocsin.store.settings import Durability

if TYPE_CHECKING:
    # imported here, not at the top: see the module docstring
    import uvicorn

    from tocsin.runtime import Runtime, Settings


LOG_LEVELS = ("debug", "info", "warning", "error")

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", envvar="TOCSIN_DATA_DIR", help="Where the SQLite file lives."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="TOCSIN_DATABASE_URL", help="sqlite:///... or postgresql://..."
    ),
]


def register(app: typer.Typer) -> None:
    app.command()(serve)


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter(f"--listen must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def bind_listen(host: str, port: int) -> list[socket.socket]:
    """The listening sockets, one per address the host name has (``localhost`` is
    127.0.0.1 and ::1), bound before anything else starts: a port already taken is one
    clear line and exit 1, not a traceback after the migrations ran."""
    bound: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # its own address only, beside the IPv4 one
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in bound:
            sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return bound


def serve(
    config: Annotated[
        Path, typer.Option("--config", envvar="TOCSIN_CONFIG", help="Configuration file.")
    ] = EXAMPLE_CONFIG,
    listen: Annotated[
        str, typer.Option("--listen", envvar="TOCSIN_LISTEN", help="host:port to serve on.")
    ] = DEFAULT_LISTEN,
    data_dir: DataDirOption = Path("data"),
    database_url: DatabaseUrlOption = None,
    external_url: Annotated[
        str | None,
        typer.Option("--external-url", envvar="TOCSIN_EXTERNAL_URL", help="URL users reach."),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", envvar="TOCSIN_MAX_BODY_BYTES")
    ] = DEFAULT_MAX_BODY,
    sqlite_durability: Annotated[
        Durability,
        typer.Option(
            "--sqlite-durability",
            envvar="TOCSIN_SQLITE_DURABILITY",
            help="full: survives power loss; normal: survives a process crash.",
        ),
    ] = Durability.FULL,
    name_validation: Annotated[
        NameValidation,
        typer.Option("--label-names", envvar="TOCSIN_LABEL_NAMES", help="legacy or utf8"),
    ] = NameValidation.LEGACY,
    delivery_lease: Annotated[
        float,
        typer.Option(
            envvar="TOCSIN_DELIVERY_LEASE",
            help="Seconds a notification stays leased while sent; after a crash it is "
            "sent again once this has passed.",
        ),
    ] = 60.0,
    retention: Annotated[
        str,
        typer.Option(
            envvar="TOCSIN_RETENTION",
            help="How long resolved alerts, expired silences and sent notifications are "
            "kept (Alertmanager's --data.retention): 120h, 30d...",
        ),
    ] = "120h",
    web_config_file: Annotated[
        Path | None,
        typer.Option(
            "--web-config-file",
            envvar="TOCSIN_WEB_CONFIG_FILE",
            help="TLS and basic auth for this server: Alertmanager's --web.config.file format.",
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(envvar="TOCSIN_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
    log_format: Annotated[
        LogFormat,
        typer.Option(
            envvar="TOCSIN_LOG_FORMAT",
            help="text, or json: one object a line (time, level, logger, msg).",
        ),
    ] = LogFormat.TEXT,
) -> None:
    """Run the server."""
    if log_level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r} is none of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
    logs.configure(log_level, log_format)
    if log_level.upper() != "DEBUG":
        # alembic's plugin set-up and DDL notes at INFO are a screenful on every start
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # imported here, not at the top: see the module docstring
    from tocsin.runtime import Settings

    try:
        kept = parse_duration(retention)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--retention") from None
    if kept <= timedelta(0):
        raise typer.BadParameter("must be more than 0", param_hint="--retention")
    host, port = split_listen(listen)
    socks = bind_listen(host, port)
    settings = Settings(
        config_path=config,
        data_dir=data_dir,
        database_url=database_url,
        listen=listen,
        external_url=external_url,
        max_body_bytes=max_body_bytes,
        sqlite_durability=sqlite_durability,
        name_validation=name_validation,
        delivery_lease=timedelta(seconds=delivery_lease),
        retention=kept,
        web_config_path=web_config_file,
    )
    # the sockets are closed on every way out (uvicorn closes them too when it stops)
    with contextlib.ExitStack() as bound:
        for sock in socks:
            bound.callback(sock.close)
        _run(settings, host, port, socks)


def _run(settings: Settings, host: str, port: int, socks: list[socket.socket]) -> None:
    """Start the runtime and serve on ``socks`` until stopped."""
    import uvicorn

    from tocsin.app import build_app
    from tocsin.config import ConfigError
    from tocsin.runtime import Runtime

    try:
        rt = Runtime(settings)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except Exception as exc:
        fail(f"cannot start: {exc}")
    tune_gc()
    server_config = uvicorn.Config(
        build_app(rt),
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # its lines go to the root logger, in --log-format
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    on_loop = OnLoop()
    try:
        serve_tls(server_config, rt, on_loop)
    except (OSError, ssl.SSLError) as exc:
        rt.close()
        fail(f"cannot start TLS: {exc}")
    server = uvicorn.Server(server_config)
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(_serve(server, rt, on_loop, socks))
    finally:
        rt.close()


def serve_tls(server_config: uvicorn.Config, rt: Runtime, on_loop: OnLoop) -> None:
    """Serve TLS as the web config says, and take its certificate and key again on a
    reload (new connections get them). A reload runs on a worker thread; the live
    context is changed on the loop's thread (``on_loop``), which does the handshakes.
    Turning TLS on or off, or changing the client CAs (OpenSSL can add a CA to a
    running context, not remove one), needs a restart: such a reload is refused."""
    from tocsin.config.web import CLIENT_AUTH, TLS_VERSIONS, TLSServerConfig, WebConfig

    def tune(context: ssl.SSLContext, tls: TLSServerConfig) -> None:
        context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
        context.minimum_version = TLS_VERSIONS[tls.min_version]
        context.maximum_version = TLS_VERSIONS[tls.max_version]

    tls = rt.web.tls_server_config
    if tls is None:

        def keep_plain(web: WebConfig) -> None:
            if web.tls_server_config is not None:
                raise _restart_needed(rt, "tls_server_config", "turning TLS on")

        rt.on_web_reload.append(keep_plain)
        return
    server_config.ssl_certfile, server_config.ssl_keyfile = tls.cert_file, tls.key_file
    server_config.ssl_cert_reqs = CLIENT_AUTH[tls.client_auth_type]
    server_config.ssl_ca_certs = tls.client_ca_file or None
    server_config.load()  # makes the SSLContext, which is then tuned and kept
    context = server_config.ssl
    assert context is not None
    tune(context, tls)
    client_cas = _file_bytes(tls.client_ca_file)

    def take_certificates(web: WebConfig) -> None:
        new = web.tls_server_config
        if new is None:
            raise _restart_needed(rt, "tls_server_config", "turning TLS off")
        if _file_bytes(new.client_ca_file) != client_cas:
            raise _restart_needed(rt, "tls_server_config.client_ca_file", "changing client CAs")

        def swap() -> None:
            # (loading the web config loaded the pair on a throwaway context already: a
            # pair that fails would leave the live one with the new certificate, no key)
            context.load_cert_chain(new.cert_file, new.key_file)
            tune(context, new)

        on_loop(swap)

    rt.on_web_reload.append(take_certificates)


def _file_bytes(path: str) -> bytes:
    return Path(path).read_bytes() if path else b""


def _restart_needed(rt: Runtime, key: str, what: str) -> Exception:
    from tocsin.config import ConfigError, ConfigProblem

    path = str(rt.settings.web_config_path)
    return ConfigError([ConfigProblem(path, 1, key, f"{what} needs a restart")])


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it comes with ``uvicorn[standard]``).

    ``uvicorn.Server.serve`` runs on whatever loop it is given; only ``uvicorn.run``
    would pick uvloop by itself. On the ingest path (bench/ingest.py) the event loop's
    own work (selector, socket reads and writes, the writer's wake-ups) is a large part
    of each request; uvloop does it in C: 2-7 % more alerts/s than asyncio's loop.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return None
    return uvloop.new_event_loop


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the latency tail.

    Measured with bench/ingest.py: with the default thresholds, full collections over
    the in-memory alert index stall the event loop (p99 80 ms at 5k requests/s); the
    objects Tocsin keeps are acyclic, so collections can be rare. What start-up loaded
    is frozen out of the collector's sight altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


async def _serve(
    server: uvicorn.Server, rt: Runtime, on_loop: OnLoop, socks: list[socket.socket]
) -> None:
    loop = asyncio.get_running_loop()
    on_loop.attach(loop)
    reloads: set[asyncio.Task[None]] = set()  # keep references until they finish

    def on_sighup() -> None:
        async def reload() -> None:
            with contextlib.suppress(Exception):  # refused: Runtime.reload logged why
                await asyncio.to_thread(rt.reload)

        task = loop.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_sighup)
    logging.getLogger("tocsin").info(
        "Tocsin %s listening on %s://%s (database: %s)",
        __version__,
        rt.scheme,
        rt.settings.listen,
        rt.engine.url.render_as_string(hide_password=True),
    )
    logging.getLogger("tocsin").info("%s", rt.holdings())
    await server.serve(sockets=socks)
