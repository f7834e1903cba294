"""TLS and basic auth from a web config file (``--web-config-file``, Alertmanager's
``--web.config.file`` format), with the real clients that must get through: amtool
with its ``--http.config.file``, Prometheus with ``basic_auth`` and ``tls_config`` on
its Alertmanager, Tocsin's own CLI, and a browser-less HTTP client for the rest.

Certificates come from a throwaway CA (trustme); every server listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import trustme

from tests.e2e.conftest import CONFIG, DATA, require_binary, wait_until
from tests.harness.procs import PrometheusServer, TocsinServer, free_port

pytestmark = pytest.mark.e2e

ALICE = ("alice", "alice's pass: with a colon")
BOB = ("bob", "bob-pass")


@dataclass(frozen=True)
class TLSFiles:
    ca: Path  # the CA's certificate: what clients trust
    cert: Path  # the server's certificate chain
    key: Path
    client: Path  # a client certificate and its key, in one PEM, signed by the CA

    def context(self, client_cert: bool = False) -> ssl.SSLContext:
        """What a client trusts (the CA), with the client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if client_cert:
            context.load_cert_chain(str(self.client))
        return context


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    where = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    files = TLSFiles(
        where / "ca.pem", where / "server.pem", where / "server.key", where / "client.pem"
    )
    ca.cert_pem.write_to_path(str(files.ca))
    server.private_key_pem.write_to_path(str(files.key))
    for i, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(files.cert), append=i > 0)
    ca.issue_cert("client@example.org").private_key_and_cert_chain_pem.write_to_path(
        str(files.client)
    )
    return files


def hashed(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def web_config(
    path: Path, tls: TLSFiles | None, users: dict[str, str], client_auth: str = ""
) -> Path:
    lines = []
    if tls is not None:
        lines += [
            "tls_server_config:",
            f"  cert_file: {tls.cert}",
            f"  key_file: {tls.key}",
        ]
        if client_auth:
            lines += [f"  client_auth_type: {client_auth}", f"  client_ca_file: {tls.ca}"]
    lines += ["http_server_config:", "  headers:", "    X-Frame-Options: deny"]
    lines += ["basic_auth_users:"] + [f"  {u}: {hashed(p)}" for u, p in users.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def secured(tmp_path: Path, tls: TLSFiles) -> Iterator[TocsinServer]:
    """Tocsin over TLS, with alice as its one user."""
    config = web_config(tmp_path / "web.yml", tls, dict([ALICE]))
    server = TocsinServer(
        tmp_path, config=CONFIG, web_config=config, auth=ALICE, verify=tls.context()
    )
    with server:
        yield server


def client(tls: TLSFiles, auth: tuple[str, str] | None = ALICE, **kwargs: Any) -> httpx.Client:
    return httpx.Client(verify=tls.context(), auth=auth, timeout=10.0, **kwargs)


def test_every_route_asks_for_the_password_but_those_that_prove_themselves(
    secured: TocsinServer, tls: TLSFiles
) -> None:
    """Without the password, or with a wrong one: 401 with a Basic challenge. With it:
    the answer, with the configured headers. The signed link, Slack's buttons and the
    PagerDuty Events API need no password: their own checks answer; nor does the
    public status page."""
    for auth in (None, (ALICE[0], "wrong"), ("mallory", ALICE[1])):
        with client(tls, auth) as http:
            for path in ("/api/v2/status", "/-/healthy", "/metrics", "/ui/alerts"):
                refused = http.get(f"{secured.url}{path}")
                assert refused.status_code == 401, (auth, path)
                assert refused.headers["www-authenticate"].startswith("Basic ")
    with client(tls) as http:
        status = http.get(f"{secured.url}/api/v2/status")
        assert status.status_code == 200
        assert status.headers["x-frame-options"] == "deny"
    with client(tls, auth=None) as http:
        link = http.get(f"{secured.url}/act/ack/abc", params={"by": "x", "exp": 1, "sig": "bad"})
        assert link.status_code in (400, 403)
        assert "www-authenticate" not in link.headers
        slack = http.post(f"{secured.url}/api/v1/slack/actions", content=b"payload=%7B%7D")
        assert slack.status_code == 404  # the route's own answer: no signing secret set
        assert "slack_signing_secret" in slack.text
        assert "www-authenticate" not in slack.headers
        event = http.post(f"{secured.url}/v2/enqueue", json={"routing_key": "nope"})
        assert event.status_code == 400
        assert "www-authenticate" not in event.headers
        near = http.post(f"{secured.url}/v2/enqueueX", json={})  # only those very paths
        assert near.status_code == 401
        # the status page is for the public: it shows only what responders made public
        page = http.get(f"{secured.url}/status")
        assert page.status_code == 200
        assert "All systems operational" in page.text
        assert http.get(f"{secured.url}/api/v1/status-page").json()["incidents"] == []
        assert http.get(f"{secured.url}/status/feed.atom").status_code == 200
        summary = http.get(f"{secured.url}/status/api/v2/summary.json").json()
        assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
        assert http.get(f"{secured.url}/status/api/v2X").status_code == 401  # not a prefix of it
        assert http.get(f"{secured.url}/api/v1/incidents").status_code == 401
        assert http.get(f"{secured.url}/api/v1/maintenances").status_code == 401
    with pytest.raises(httpx.HTTPError):  # plain HTTP to a TLS port
        httpx.get(f"http://127.0.0.1:{secured.port}/-/healthy", timeout=5.0)


def amtool(url: str, home: Path, http_config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        require_binary("amtool"),
        f"--alertmanager.url={url}",
        f"--http.config.file={http_config}",
        "--timeout=20s",
        *args,
    ]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "TZ": "UTC"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def http_config(path: Path, tls: TLSFiles, user: tuple[str, str]) -> Path:
    """amtool's and Prometheus's ``http_config``: basic auth and the CA to trust."""
    path.write_text(
        json.dumps(
            {
                "basic_auth": {"username": user[0], "password": user[1]},
                "tls_config": {"ca_file": str(tls.ca)},
            }
        )
    )
    return path


def test_amtool_works_through_tls_and_basic_auth(
    secured: TocsinServer, tls: TLSFiles, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    good = http_config(tmp_path / "good.yml", tls, ALICE)
    bad = http_config(tmp_path / "bad.yml", tls, (ALICE[0], "wrong"))

    def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return amtool(secured.url, home, config, *args)

    added = run(good, "alert", "add", "DiskFull", "instance=db1", "severity=critical")
    assert added.returncode == 0, added.stderr
    queried = run(good, "-o", "json", "alert", "query")
    assert queried.returncode == 0, queried.stderr
    assert [a["labels"]["alertname"] for a in json.loads(queried.stdout)] == ["DiskFull"]
    silenced = run(good, "silence", "add", "instance=db1", "--comment=disk", "--author=alice")
    assert silenced.returncode == 0, silenced.stderr
    silence_id = silenced.stdout.strip()
    listed = run(good, "-o", "json", "silence", "query")
    assert [s["id"] for s in json.loads(listed.stdout)] == [silence_id]
    assert run(good, "silence", "expire", silence_id).returncode == 0
    refused = run(bad, "alert", "query")
    assert refused.returncode != 0
    assert "401" in refused.stderr or "Unauthorized" in refused.stderr
    with client(tls) as http:  # the refused call changed nothing
        alerts = http.get(f"{secured.url}/api/v2/alerts").json()
    assert [a["labels"]["instance"] for a in alerts] == ["db1"]


PROMETHEUS_CONFIG = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - api_version: v2
      scheme: https
      timeout: 5s
      basic_auth: {{username: {user}, password: "{password}"}}
      tls_config: {{ca_file: {ca}}}
      static_configs:
        - targets: ["127.0.0.1:{tocsin_port}"]
"""


def test_prometheus_sends_its_alerts_through_tls_and_basic_auth(
    secured: TocsinServer, tls: TLSFiles, tmp_path: Path
) -> None:
    require_binary("prometheus")
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    rules = workdir / "rules.yml"
    shutil.copyfile(DATA / "rules-firing.yml", rules)
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        PROMETHEUS_CONFIG.format(
            rules=rules, user=ALICE[0], password=ALICE[1], ca=tls.ca, tocsin_port=secured.port
        )
    )
    with PrometheusServer(workdir, config, port=port), client(tls) as http:

        def firing() -> list[str] | None:
            alerts = http.get(f"{secured.url}/api/v2/alerts").json()
            names = sorted(a["labels"]["alertname"] for a in alerts)
            return names if "E2EAlwaysFiring" in names else None

        assert "E2EAlwaysFiring" in wait_until(firing, 60.0, "Prometheus's alert in Tocsin")


def test_the_cli_takes_the_password_from_its_url(secured: TocsinServer, tls: TLSFiles) -> None:
    host = secured.url.removeprefix("https://")

    def cli(user: tuple[str, str]) -> subprocess.CompletedProcess[str]:
        from urllib.parse import quote

        url = f"https://{quote(user[0])}:{quote(user[1], safe='')}@{host}"
        env = {"TOCSIN_URL": url, "SSL_CERT_FILE": str(tls.ca), "PATH": "/usr/bin:/bin"}
        argv = [sys.executable, "-m", "tocsin", "silence", "list", "--json"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)

    ok = cli(ALICE)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == []
    refused = cli((ALICE[0], "wrong"))
    assert refused.returncode == 1
    assert "401" in refused.stderr


def test_a_reload_takes_new_users_and_refuses_to_turn_tls_off(
    secured: TocsinServer, tls: TLSFiles, tmp_path: Path
) -> None:
    path = tmp_path / "web.yml"
    web_config(path, tls, dict([BOB]))
    with client(tls) as http:
        assert http.post(f"{secured.url}/-/reload").status_code == 200
    with client(tls, ALICE) as http:
        assert http.get(f"{secured.url}/-/healthy").status_code == 401
    with client(tls, BOB) as http:
        assert http.get(f"{secured.url}/-/healthy").status_code == 200
        web_config(path, None, dict([ALICE]))  # TLS off: needs a restart
        refused = http.post(f"{secured.url}/-/reload")
        assert refused.status_code == 500
        assert "tls_server_config" in refused.text
        assert http.get(f"{secured.url}/-/healthy").status_code == 200  # bob, still
        path.write_text("basic_auth_users:\n  carol: plain-text\n")  # a bad file
        refused = http.post(f"{secured.url}/-/reload")
        assert refused.status_code == 500
        assert f"{path}:2: basic_auth_users.carol: not a bcrypt hash" in refused.text
        assert http.get(f"{secured.url}/-/healthy").status_code == 200


def test_a_reload_serves_a_new_certificate_to_new_connections(
    secured: TocsinServer, tls: TLSFiles, tmp_path: Path
) -> None:
    """A renewed certificate (here from another CA, so the client can tell which one it
    got) is taken by a reload; the reload's thread hands the change to the loop's."""
    renewed_ca = trustme.CA()
    renewed = renewed_ca.issue_cert("127.0.0.1")
    files = TLSFiles(tmp_path / "ca2.pem", tmp_path / "new.pem", tmp_path / "new.key", tls.client)
    renewed_ca.cert_pem.write_to_path(str(files.ca))
    renewed.private_key_pem.write_to_path(str(files.key))
    renewed.private_key_and_cert_chain_pem.write_to_path(str(files.cert))
    web_config(tmp_path / "web.yml", files, dict([ALICE]))
    with client(tls) as http:
        assert http.post(f"{secured.url}/-/reload").status_code == 200
    with client(files) as http:  # trusts only the new CA
        assert http.get(f"{secured.url}/-/healthy").status_code == 200
    with client(tls) as http, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY"):
        http.get(f"{secured.url}/-/healthy")


def test_a_reload_with_a_key_that_does_not_match_keeps_serving_the_old_pair(
    secured: TocsinServer, tls: TLSFiles, tmp_path: Path
) -> None:
    other = trustme.CA().issue_cert("127.0.0.1")
    wrong_key = tmp_path / "wrong.key"
    other.private_key_pem.write_to_path(str(wrong_key))
    path = tmp_path / "web.yml"
    web_config(path, tls, dict([ALICE]))
    path.write_text(path.read_text().replace(str(tls.key), str(wrong_key)))
    with client(tls) as http:
        refused = http.post(f"{secured.url}/-/reload")
        assert refused.status_code == 500
        assert "tls_server_config.cert_file: cannot load the certificate with its key" in (
            refused.text
        )
    with client(tls) as http:  # a new connection: a new handshake, with the old pair
        assert http.get(f"{secured.url}/-/healthy").status_code == 200


def test_client_certificates_are_required_when_configured(tls: TLSFiles, tmp_path: Path) -> None:
    config = web_config(tmp_path / "web.yml", tls, {}, client_auth="RequireAndVerifyClientCert")
    context = tls.context(client_cert=True)
    with TocsinServer(tmp_path, config=CONFIG, web_config=config, verify=context) as server:
        with httpx.Client(verify=context, timeout=10.0) as http:
            assert http.get(f"{server.url}/api/v2/status").status_code == 200
            # OpenSSL adds client CAs to a running server but cannot take one away
            other_ca = tmp_path / "other-ca.pem"
            trustme.CA().cert_pem.write_to_path(str(other_ca))
            config.write_text(config.read_text().replace(str(tls.ca), str(other_ca)))
            refused = http.post(f"{server.url}/-/reload")
            assert refused.status_code == 500
            assert "changing client CAs needs a restart" in refused.text
        with pytest.raises(httpx.HTTPError), client(tls, auth=None) as http:
            http.get(f"{server.url}/api/v2/status")


def test_a_bad_web_config_stops_start_up_with_its_problems(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  alice: plain\n")
    argv = [sys.executable, "-m", "tocsin", "serve", "--config", str(CONFIG)]
    argv += ["--data-dir", str(tmp_path / "data"), "--web-config-file", str(web)]
    argv += ["--listen", f"127.0.0.1:{free_port()}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{web}:2: basic_auth_users.alice: not a bcrypt hash" in done.stderr
