"""What the server checks in a configuration as ``check-config`` does, at start and at
reload: templates that do not compile refuse it (file, line, key); integrations no
channel sends are logged as warnings; the loaded file's hash is published, so that
replicas running different files show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Clock
from tocsin.config import ConfigError
from tocsin.metrics import config_hash
from tocsin.runtime import Runtime, Settings
from tocsin.store.settings import Durability

CONFIG = """\
templates: ['*.tmpl']
route: {receiver: chat}
receivers:
  - name: chat
    webhook_configs: [{url: 'http://127.0.0.1:1/chat'}]
  - name: ops
    opsgenie_configs: [{api_key: k}]
"""
TELEGRAM = CONFIG.replace(
    "opsgenie_configs: [{api_key: k}]", "telegram_configs: [{bot_token: t, chat_id: 1}]"
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    return path


def gauge(client: TestClient, name: str) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not scraped")


def unsupported(records: list[logging.LogRecord]) -> list[str]:
    return [
        r.getMessage()
        for r in records
        if r.levelno == logging.WARNING and "not supported by Tocsin" in r.getMessage()
    ]


def test_start_and_reload_warn_of_integrations_tocsin_cannot_send(
    client: TestClient, config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert unsupported(caplog.get_records("setup")) == [
        f"{config_path}:7: warning: receivers[1].opsgenie_configs: receiver 'ops': not "
        "supported by Tocsin: notifications to this receiver's opsgenie integration fail"
    ]
    config_path.write_text(TELEGRAM)
    assert client.post("/-/reload").status_code == 200
    assert unsupported(caplog.records) == [
        f"{config_path}:7: warning: receivers[1].telegram_configs: receiver 'ops': not "
        "supported by Tocsin: notifications to this receiver's telegram integration fail"
    ]


def test_the_loaded_files_hash_is_published_and_moves_with_each_reload(
    client: TestClient, config_path: Path
) -> None:
    assert gauge(client, "tocsin_config_hash") == config_hash(CONFIG)
    config_path.write_text(TELEGRAM)
    assert client.post("/-/reload").status_code == 200
    assert gauge(client, "tocsin_config_hash") == config_hash(TELEGRAM) != config_hash(CONFIG)
    assert gauge(client, "tocsin_config_last_reload_success_timestamp_seconds") > 0


# (template file, a webhook receiver's replacement by a Slack one, the problem's tail)
BROKEN = [
    (
        '{{ define "team" }}\n{{ .CommonLabels.x | split "," }}{{ end }}\n',
        "",
        "/custom.tmpl:2: template 'team': function \"split\" not defined",
    ),
    (
        "",
        "slack_configs: [{api_url: 'http://127.0.0.1:1/s', text: '{{ .Foo | nosuchfunc }}'}]",
        "/alertmanager.yml:5: receivers[0].slack_configs[0].text: bad template: function "
        '"nosuchfunc" not defined',
    ),
]


@pytest.mark.parametrize(("template_file", "receiver", "problem"), BROKEN)
def test_a_template_that_does_not_compile_is_refused_at_reload_and_at_start(
    client: TestClient,
    config_path: Path,
    tmp_path: Path,
    db_url: str,
    clock: Clock,
    template_file: str,
    receiver: str,
    problem: str,
) -> None:
    (tmp_path / "custom.tmpl").write_text(template_file)
    text = CONFIG
    if receiver:
        text = CONFIG.replace("webhook_configs: [{url: 'http://127.0.0.1:1/chat'}]", receiver)
    config_path.write_text(text)
    refused = client.post("/-/reload")
    assert refused.status_code == 500
    assert f"{tmp_path}{problem}" in refused.text
    assert gauge(client, "tocsin_config_last_reload_successful") == 0
    assert gauge(client, "tocsin_config_hash") == config_hash(CONFIG)  # the old one runs
    settings = Settings(
        config_path=config_path,
        data_dir=tmp_path / "other",
        database_url=db_url,
        sqlite_durability=Durability.NORMAL,
    )
    with pytest.raises(ConfigError) as info:
        Runtime(settings, clock)
    assert [str(p) for p in info.value.problems] == [f"{tmp_path}{problem}"]
