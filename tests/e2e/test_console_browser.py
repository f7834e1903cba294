"""The console in a real browser (Debian's Chromium, driven through its chromedriver)
against a real ``tocsin serve``: a responder sees what fires, silences an alert from
its own "silence" link, acknowledges the alert group being escalated with one click
and ticks the first step of its runbook checklist; the API then shows what the clicks
did. Chromium sends its own Origin and
Sec-Fetch-Site headers, so this also shows the cross-site guard lets the console's own
forms through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.api.test_console import CONFIG
from tests.e2e.conftest import alert, post_alerts, require_binary, wait_until
from tests.harness.procs import TocsinServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    chromium = require_binary("chromium", "chromium-browser")
    driver_path = require_binary("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium'}")
    service = Service(driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()


def readable_states(driver: WebDriver) -> dict[str, str]:
    """The status page's component rows, name to state, each state's words checked to
    be drawn in a colour other than their background's (a reader sees them)."""
    out = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-component]"):
        cell = row.find_element(By.CSS_SELECTOR, "td.state")
        assert cell.value_of_css_property("color") != cell.value_of_css_property("background-color")
        assert cell.value_of_css_property("background-color") in {
            "rgba(0, 0, 0, 0)",
            "rgba(255, 255, 255, 1)",
        }
        out[row.get_attribute("data-component") or ""] = cell.text
    return out


def texts(driver: WebDriver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def groups(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{url}/api/v1/groups").json()
    return found


def test_a_responder_silences_and_acknowledges_from_the_browser(
    tmp_path: Path, browser: WebDriver
) -> None:
    path = tmp_path / "alertmanager.yml"
    # The pages' e-mails fail (nothing listens at the smarthost): on a slow machine the
    # third failure raised TocsinNotificationsFailing, critical, a second group to page,
    # before the test acknowledged the first. This test is about the browser.
    path.write_text(CONFIG + "  failing_after: 1000000\n")
    with TocsinServer(tmp_path, config=path) as tocsin:
        disk = alert({"alertname": "DiskFull", "instance": "db1", "severity": "warning"})
        down = alert({"alertname": "ServiceDown", "severity": "critical"})
        assert post_alerts(tocsin.url, [disk, down]).status_code == 200

        browser.get(f"{tocsin.url}/")  # the home page is the alerts page
        assert browser.current_url == f"{tocsin.url}/ui/alerts"
        assert sorted(texts(browser, ".alertname")) == ["DiskFull", "ServiceDown"]

        # silence DiskFull from its own link: the form comes filled with its labels
        link = browser.find_element(
            By.CSS_SELECTOR, ".alert:has(.chip) a.silence[href*='DiskFull']"
        )
        link.click()
        wait_until(lambda: "/ui/silences/new?" in browser.current_url, 30, "the silence form")
        matchers = browser.find_element(By.ID, "matchers").get_attribute("value") or ""
        assert 'alertname="DiskFull"' in matchers
        assert 'instance="db1"' in matchers
        assert texts(browser, "table.preview td:first-child") == ["DiskFull"]
        browser.find_element(By.ID, "created_by").send_keys("ann")
        browser.find_element(By.ID, "comment").send_keys("resizing the volume")
        browser.find_element(By.CSS_SELECTOR, "#silence-form button.primary").click()
        # a click does not wait for the page it leads to
        wait_until(lambda: browser.current_url.endswith("?done=silenced"), 30, "the list")
        assert "Silence saved." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        (silence,) = httpx.get(f"{tocsin.url}/api/v2/silences").json()
        assert (silence["createdBy"], silence["status"]["state"]) == ("ann", "active")
        muted = {
            a["labels"]["alertname"]: a["status"]["silencedBy"]
            for a in httpx.get(f"{tocsin.url}/api/v2/alerts").json()
        }
        assert muted == {"DiskFull": [silence["id"]], "ServiceDown": []}

        # the silenced alert leaves the alerts page
        browser.get(f"{tocsin.url}/ui/alerts")
        assert texts(browser, ".alertname") == ["ServiceDown"]

        # ServiceDown pages the on-call: acknowledge its group with one click
        wait_until(lambda: groups(tocsin.url), 30, "the alert group to open")
        # on a phone at 3 a.m., the Acknowledge button is on screen, no sideways scroll
        browser.set_window_size(420, 900)
        browser.get(f"{tocsin.url}/ui/groups")
        button = browser.find_element(By.CSS_SELECTOR, "tr.group form.ack button")
        inner = browser.execute_script("return window.innerWidth")
        assert button.is_displayed()
        assert button.rect["x"] + button.rect["width"] <= inner, (button.rect, inner)
        # (what sticks out, if anything: named in the failure)
        wide = browser.execute_script(
            "return [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth)"
            ".map(e => e.tagName + '.' + e.className)"
        )
        assert browser.execute_script("return document.documentElement.scrollWidth") <= inner, wide
        browser.set_window_size(1280, 1024)
        browser.get(f"{tocsin.url}/ui/groups")
        (row,) = browser.find_elements(By.CSS_SELECTOR, "tr.group")
        name = row.find_element(By.CSS_SELECTOR, "form.ack input[name=by]")
        assert name.get_attribute("value") == "ann"  # remembered from the silence
        name.clear()
        name.send_keys("alice")
        row.find_element(By.CSS_SELECTOR, "form.ack button").click()
        wait_until(lambda: browser.current_url.endswith("?done=ack"), 30, "the list again")
        assert "Alert group acknowledged." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        (group,) = groups(tocsin.url)
        assert (group["status"], group["acknowledgedBy"]) == ("acknowledged", "alice")

        browser.get(f"{tocsin.url}/ui/groups/{group['id']}")
        assert browser.find_element(By.ID, "status").text.lower() == "acknowledged"
        audit = texts(browser, "table.audit tr")
        assert any("acknowledged alice console" in line for line in audit), audit

        # the runbook's promise for critical alerts, kept by that acknowledgement
        kept = texts(browser, "tr.timer.met td:nth-child(2)")
        assert any(t.startswith("Response Time: < 5 minutes") for t in kept), kept

        # the runbook's ServiceDown procedure is the group's checklist: tick step 1
        (checklist,) = browser.find_elements(By.CSS_SELECTOR, "section.checklist")
        assert "0 of 5 done" in checklist.find_element(By.CSS_SELECTOR, ".progress").text
        first = checklist.find_element(By.CSS_SELECTOR, ".step")
        assert "Check service status: kubectl get pods -l app=<service>" in first.text
        assert not first.find_elements(By.CSS_SELECTOR, "pre.command")  # inline: said once
        first.find_element(By.CSS_SELECTOR, "button.tick").click()  # as alice, remembered
        wait_until(lambda: "?done=step" in browser.current_url, 30, "the group page again")
        assert "Checklist updated." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        progress = browser.find_element(By.CSS_SELECTOR, "section.checklist .progress").text
        assert progress == "1 of 5 done"
        assert "done by alice" in browser.find_element(By.CSS_SELECTOR, ".step.done").text
        (listed,) = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}/checklist").json()
        assert [s["doneBy"] for s in listed["steps"]] == ["alice", None, None, None, None]

        # a post-incident promise kept mid-incident, from its button in the timers' table
        immediate = browser.find_element(By.CSS_SELECTOR, "tr.timer.waiting button.tick")
        ref = immediate.get_attribute("value")
        immediate.click()
        wait_until(lambda: "?done=timer" in browser.current_url, 30, "the group page again")
        assert "Timer updated." in browser.find_element(By.CSS_SELECTOR, ".notice").text
        row = browser.find_element(By.CSS_SELECTOR, f'tr.timer[data-timer="{ref}"]')
        assert "kept by alice" in row.text
        timers = httpx.get(f"{tocsin.url}/api/v1/groups/{group['id']}/timers").json()
        assert [t["keptBy"] for t in timers if t["ref"] == ref] == ["alice"]


def sideways(driver: WebDriver) -> list[str]:
    """What sticks out past the window's right edge (named in a failure): nothing, on a
    page that does not scroll sideways."""
    found: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    return found


def test_the_console_fits_a_phone(tmp_path: Path, browser: WebDriver) -> None:
    """At 420 pixels wide no page of a real incident scrolls sideways: long label values
    stay whole in their chips (the chips wrap between them), the incident's form fits,
    and the wide tables (timers, audit, timeline) scroll inside themselves."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG + "  failing_after: 1000000\n")
    with TocsinServer(tmp_path, config=path) as tocsin:
        # kube-prometheus' names and labels, as a cluster sends them
        common = {
            "severity": "critical",
            "namespace": "monitoring",
            "instance": "ip-10-12-134-201.eu-central-1.compute.internal:9100",
        }
        volume = alert(
            {
                "alertname": "KubePersistentVolumeFillingUp",
                "persistentvolumeclaim": "prometheus-k8s-db-prometheus-k8s-0",
                **common,
            },
            annotations={
                "summary": "PersistentVolume is filling up.",
                "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/"
                "kubernetes/kubepersistentvolumefillingup",
            },
        )
        shards = alert({"alertname": "PrometheusRemoteWriteDesiredShards", **common})
        down = alert({"alertname": "ServiceDown", "service": "checkout-payments", **common})
        assert post_alerts(tocsin.url, [volume, shards, down]).status_code == 200

        def opened() -> dict[str, str] | None:
            found = {g["labels"]["alertname"]: g["id"] for g in groups(tocsin.url)}
            return found if len(found) == 3 else None

        # ServiceDown has a runbook: its page has timers and a checklist
        gid = wait_until(opened, 30, "the three groups")["ServiceDown"]
        acked = httpx.post(
            f"{tocsin.url}/api/v1/groups/{gid}/ack",
            json={"by": "alice", "comment": "the payments pods crash-loop since the deploy"},
        )
        assert acked.status_code == 200, acked.text
        declared = httpx.post(
            f"{tocsin.url}/api/v1/incidents",
            json={
                "by": "alice",
                "title": "Checkout payments down in eu-central-1",
                "severity": "SEV2",
                "summary": "Card payments fail at checkout",
                "public": True,
                "groups": [gid],
            },
        )
        assert declared.status_code == 201, declared.text
        number = declared.json()["id"]
        for change in (
            {"status": "identified", "update": "A bad deploy of the payments service"},
            {"note": "kubectl rollout undo deployment/checkout-payments -n monitoring"},
        ):
            changed = httpx.patch(
                f"{tocsin.url}/api/v1/incidents/{number}", json={"by": "bob", **change}
            )
            assert changed.status_code == 200, changed.text

        browser.set_window_size(420, 900)
        inner = browser.execute_script("return window.innerWidth")
        assert inner <= 420, inner
        wide = {}  # every page that scrolls sideways, named in one failure
        for page, shows in [
            ("/ui/alerts", "dl.annotations a"),
            ("/ui/groups", "tr.group form.ack"),
            (f"/ui/groups/{gid}", "tr.timer.met"),
            (f"/ui/groups/{gid}", "table.audit tr + tr"),
            (f"/ui/incidents/{number}", "table.timeline tr.entry"),
        ]:
            browser.get(f"{tocsin.url}{page}")
            assert browser.find_elements(By.CSS_SELECTOR, shows), page  # the data is there
            width = browser.execute_script("return document.documentElement.scrollWidth")
            if width > inner:
                wide[page] = (width, sideways(browser))
        assert wide == {}, (inner, wide)
        # a chip is one line, whole: "alertname=..." is not cut letter by letter
        browser.get(f"{tocsin.url}/ui/groups")
        chips = browser.find_elements(By.CSS_SELECTOR, "tr.group .chip.group")
        assert sorted(c.text for c in chips) == [
            'alertname="KubePersistentVolumeFillingUp"',
            'alertname="PrometheusRemoteWriteDesiredShards"',
            'alertname="ServiceDown"',
        ]
        lines = browser.execute_script(
            "return arguments[0].map(c => {"
            " const r = document.createRange(); r.selectNodeContents(c);"
            " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; })",
            chips,
        )
        assert lines == [1, 1, 1], lines


@pytest.mark.parametrize(
    ("fragment", "lands"),
    [
        # a community template's silence link, and Alertmanager's own alert links
        (
            '#/silences/new?filter={alertname%3D"DiskFull"%2C instance%3D"db1"}',
            ("/ui/silences/new", "matchers", 'alertname="DiskFull", instance="db1"'),
        ),
        ("#/alerts?receiver=pager&silenced=true", ("/ui/alerts", "receiver", "pager")),
        ("#/silences/abc123", ("/ui/silences/new", "id", "abc123")),
        ("#/silences/abc123/edit", ("/ui/silences/new", "id", "abc123")),
    ],
)
def test_alertmanager_ui_links_lead_to_the_same_page(
    tmp_path: Path, browser: WebDriver, fragment: str, lands: tuple[str, str, str]
) -> None:
    """Templates written for Alertmanager link to its UI by fragment, which no server
    sees (``{{ .ExternalURL }}/#/silences/new?filter=...``): the console's pages lead
    them to the same page here."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    with TocsinServer(tmp_path, config=path) as tocsin:
        browser.get(f"{tocsin.url}/{fragment}")
        where, key, value = lands
        wait_until(lambda: urlsplit(browser.current_url).path == where, 30, where)
        assert parse_qs(urlsplit(browser.current_url).query)[key] == [value]


def test_the_api_docs_render_in_the_browser(tmp_path: Path, browser: WebDriver) -> None:
    """Swagger UI renders Tocsin's OpenAPI 3.1 document from the server's own files
    (this machine reaches no CDN), listing the Alertmanager API's operations."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    with TocsinServer(tmp_path, config=path) as tocsin:
        browser.get(f"{tocsin.url}/docs")
        wait_until(lambda: texts(browser, ".opblock-summary-path"), 30, "the operations")
        paths = set(texts(browser, ".opblock-summary-path"))
        assert {"/api/v2/alerts", "/api/v2/silences", "/api/v2/status"} <= paths
        assert not browser.find_elements(By.CSS_SELECTOR, ".errors-wrapper")


def test_an_incident_run_from_the_browser(tmp_path: Path, browser: WebDriver) -> None:
    """Declared from an alert group's link, updated from its page, shown on the
    public status page: all in Chromium, by clicks and typing."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG + "  failing_after: 1000000\n")
    with TocsinServer(tmp_path, config=path) as tocsin:
        down = alert({"alertname": "ServiceDown", "severity": "critical"})
        assert post_alerts(tocsin.url, [down]).status_code == 200
        (group,) = wait_until(lambda: groups(tocsin.url), 30, "the alert group")
        browser.get(f"{tocsin.url}/ui/groups/{group['id']}")
        browser.find_element(By.ID, "declare-incident").click()
        wait_until(lambda: "/ui/incidents?" in browser.current_url, 30, "the form")
        assert browser.find_element(By.ID, "group").get_attribute("value") == group["id"]
        assert browser.find_element(By.ID, "title").get_attribute("value") == "ServiceDown"
        browser.find_element(By.ID, "summary").send_keys("Checkout is down")
        browser.find_element(By.CSS_SELECTOR, "input[name=public]").click()
        browser.find_element(By.ID, "by").send_keys("ann")
        browser.find_element(By.CSS_SELECTOR, "#declare button.danger").click()
        wait_until(lambda: browser.current_url.endswith("?done=declared"), 30, "its page")
        assert browser.find_element(By.ID, "status").text == "INVESTIGATING"  # CSS capitals
        assert texts(browser, "tr[data-due] td:first-child") == ["a first update"]

        browser.find_element(By.ID, "update").send_keys("A bad deploy; rolling back")
        browser.find_element(By.CSS_SELECTOR, "#status option[value=identified]").click()
        browser.find_element(By.CSS_SELECTOR, "#change button.primary").click()
        wait_until(lambda: browser.current_url.endswith("?done=changed"), 30, "the page")
        lines = texts(browser, "table.timeline tr.entry td:last-child")
        assert "Identified: A bad deploy; rolling back status page" in lines

        browser.get(f"{tocsin.url}/status")
        assert browser.find_element(By.ID, "overall").text == "Major outage"
        assert texts(browser, "article h2") == ["ServiceDown"]
        assert "A bad deploy; rolling back" in browser.find_element(By.TAG_NAME, "article").text


def test_a_maintenance_window_run_from_the_browser(tmp_path: Path, browser: WebDriver) -> None:
    """Scheduled from the console's form, shown on the status page while it runs, its
    alerts silenced, finished early with one click: all in Chromium."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG + "  incidents:\n    components: [API, Orchestrator]\n")
    with TocsinServer(tmp_path, config=path) as tocsin:
        browser.get(f"{tocsin.url}/status")
        assert readable_states(browser) == {"API": "Operational", "Orchestrator": "Operational"}
        browser.get(f"{tocsin.url}/ui/alerts")
        browser.find_element(By.LINK_TEXT, "Maintenance").click()
        wait_until(lambda: browser.current_url.endswith("/ui/maintenance"), 30, "the page")
        browser.find_element(By.ID, "title").send_keys("Database upgrade")
        duration = browser.find_element(By.ID, "duration")
        duration.clear()
        duration.send_keys("90m")
        browser.find_element(By.ID, "description").send_keys("Read-only for 90 minutes")
        browser.find_element(By.ID, "matchers").send_keys('service="orchestrator"')
        browser.find_element(By.ID, "by").send_keys("ann")
        browser.find_element(By.NAME, "component_1").click()  # Orchestrator
        browser.find_element(By.CSS_SELECTOR, "#schedule button[type=submit]").click()
        wait_until(lambda: browser.current_url.endswith("?done=scheduled"), 30, "the list")
        assert texts(browser, "tr[data-maintenance] .state") == ["IN PROGRESS"]  # CSS capitals
        (silence,) = httpx.get(f"{tocsin.url}/api/v2/silences").json()
        assert silence["comment"] == "maintenance #1: Database upgrade"

        browser.get(f"{tocsin.url}/status")
        assert browser.find_element(By.ID, "overall").text == "Under maintenance"
        assert readable_states(browser) == {
            "API": "Operational",
            "Orchestrator": "Under maintenance",
        }
        assert "Read-only for 90 minutes" in browser.find_element(By.CLASS_NAME, "maintenance").text

        browser.get(f"{tocsin.url}/ui/maintenance")
        finish = browser.find_element(By.XPATH, "//button[text()='Finish now']")
        finish.click()
        wait_until(lambda: browser.current_url.endswith("?done=maintenance"), 30, "the list")
        assert "No upcoming or running maintenance windows." in browser.page_source
        browser.get(f"{tocsin.url}/status")
        assert browser.find_element(By.ID, "overall").text == "All systems operational"
