"""Start and stop Tocsin, Alertmanager and Prometheus as real processes on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tocsin.defaults import EXAMPLE_CONFIG

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(
    url: str,
    timeout: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
    auth: tuple[str, str] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Poll ``url`` until it answers 200 (bounded by ``timeout``); ``auth`` and
    ``verify`` (a TLS context) for a server behind a web config."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=1.0, auth=auth, verify=verify).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last})")


class Process:
    """A child process with a log file; ``stop`` terminates, ``kill`` is a kill -9."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        ready_url: str | None = None,
        ready_auth: tuple[str, str] | None = None,
        ready_verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.argv = list(argv)
        self.ready_auth, self.ready_verify = ready_auth, ready_verify
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.ready_url = ready_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and, if it has a ready URL, wait until it answers."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        log.close()
        if self.ready_url is None:
            return
        try:
            wait_http(
                self.ready_url, proc=self.proc, auth=self.ready_auth, verify=self.ready_verify
            )
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.argv[0]} did not start: {exc}\n{self.log()}") from exc

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, exactly like a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class TocsinServer(Process):
    def __init__(
        self,
        workdir: Path,
        config: Path = EXAMPLE_CONFIG,
        database_url: str | None = None,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        web_config: Path | None = None,
        auth: tuple[str, str] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """``web_config``: served with it, over https when ``verify`` (the TLS context
        that trusts its certificate) is given; ``auth``: the user the harness waits as."""
        self.port = port or free_port()
        scheme = "https" if verify else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.workdir = workdir
        argv = [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--data-dir",
            str(workdir / "data"),
            *extra_args,
        ]
        if database_url:
            argv += ["--database-url", database_url]
        if web_config is not None:
            argv += ["--web-config-file", str(web_config)]
        super().__init__(
            argv,
            workdir / f"tocsin-{self.port}.log",
            env,
            f"{self.url}/-/ready",
            ready_auth=auth,
            ready_verify=verify or True,
        )


def find_binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        f"none of {names} is installed (apt-get install prometheus-alertmanager)"
    )


class AlertmanagerServer(Process):
    """Debian's prometheus-alertmanager, for side-by-side runs."""

    def __init__(self, workdir: Path, config: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = find_binary("prometheus-alertmanager", "alertmanager")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        ready = f"{self.url}/-/ready"
        super().__init__(argv, workdir / f"alertmanager-{self.port}.log", ready_url=ready)


class PrometheusServer(Process):
    """Debian's prometheus, sending its alerts to an Alertmanager-compatible server.

    Started with ``--web.enable-lifecycle`` so a test can rewrite the rule file and
    ``POST /-/reload``, and with a one-second resend delay so that alert state changes
    reach the receiver within seconds instead of the default minute.
    """

    def __init__(self, workdir: Path, config: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        binary = find_binary("prometheus")
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1s",
            "--log.level=warn",
        ]
        ready = f"{self.url}/-/ready"
        super().__init__(argv, workdir / f"prometheus-{self.port}.log", ready_url=ready)

    def reload(self) -> None:
        """Ask Prometheus to re-read its config and rule files; raises if it refuses."""
        httpx.post(f"{self.url}/-/reload", timeout=10.0).raise_for_status()
