"""A small typed client for Tocsin's HTTP API, used by the CLI (and usable by scripts)."""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from tocsin.urls import masked_url


class ApiError(RuntimeError):
    """The server refused the request; ``message`` is what it said."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Unreachable(OSError):
    """No answer from the server: refused, timed out, unknown host, or not a URL. An
    OSError, as a socket's failures are, so callers handle both alike."""


class Client:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            # (UnsupportedProtocol, a URL without http:// or https://, is a TransportError)
            why = str(exc) or type(exc).__name__
            # (a password in --url or TOCSIN_URL is not printed)
            shown = masked_url(self.url) or self.url
            raise Unreachable(f"cannot reach Tocsin at {shown}: {why}") from None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                message = response.json()
            except ValueError:
                message = response.text
            raise ApiError(response.status_code, str(message))
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def alerts(self, filters: list[str] | None = None, **flags: bool | str) -> list[Any]:
        params: dict[str, Any] = {k: _param(v) for k, v in flags.items()}
        if filters:
            params["filter"] = filters
        result: list[Any] = self._call("GET", "/api/v2/alerts", params=params)
        return result

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self._call("POST", "/api/v2/alerts", json=alerts)

    def enqueue_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST a PagerDuty Events API v2 event; a refused one raises :class:`ApiError`
        with its errors joined."""
        response = self._send("POST", "/v2/enqueue", json=event)
        try:
            answer: dict[str, Any] = response.json()
        except ValueError:
            raise ApiError(response.status_code, response.text) from None
        if response.status_code >= 400:
            errors = answer.get("errors") or [answer.get("message", response.text)]
            raise ApiError(response.status_code, "; ".join(map(str, errors)))
        return answer

    def heartbeats(self) -> list[Any]:
        result: list[Any] = self._call("GET", "/api/v1/heartbeats")
        return result

    def heartbeat(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/heartbeats/{quote(name, safe='')}")
        return result

    def ping(
        self, name: str, failed: bool = False, message: str = "", start: bool = False
    ) -> dict[str, Any]:
        """Ping a heartbeat (``failed``: the job failed; ``start``: it started);
        ``message`` is kept with it."""
        what = "/start" if start else "/fail" if failed else ""
        path = f"/api/v1/heartbeats/{quote(name, safe='')}{what}"
        result: dict[str, Any] = self._call(
            "POST", path, content=message.encode(), headers={"content-type": "text/plain"}
        )
        return result

    def probes(self) -> list[Any]:
        result: list[Any] = self._call("GET", "/api/v1/probes")
        return result

    def probe(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/probes/{quote(name, safe='')}")
        return result

    def run_probe(self, name: str) -> None:
        self._call("POST", f"/api/v1/probes/{quote(name, safe='')}/run")

    def silences(self, filters: list[str] | None = None) -> list[Any]:
        params = {"filter": filters} if filters else {}
        result: list[Any] = self._call("GET", "/api/v2/silences", params=params)
        return result

    def silence(self, silence_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v2/silence/{silence_id}")
        return result

    def post_silence(self, silence: dict[str, Any]) -> str:
        result = self._call("POST", "/api/v2/silences", json=silence)
        return str(result["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        self._call("DELETE", f"/api/v2/silence/{silence_id}")

    def notifications(
        self, receiver: str | None = None, limit: int = 100, **filters: str | None
    ) -> list[Any]:
        """``filters``: ``status``, ``group`` (a group key), ``before`` (RFC 3339)."""
        params: dict[str, Any] = {"limit": limit}
        if receiver:
            params["receiver"] = receiver
        params.update({k: v for k, v in filters.items() if v})
        result: list[Any] = self._call("GET", "/api/v1/notifications", params=params)
        return result

    def runbook_for(self, alertname: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/runbooks/for-alert/{alertname}")
        return result

    def search_runbooks(self, query: str, limit: int = 10) -> list[Any]:
        params = {"q": query, "limit": limit}
        result: list[Any] = self._call("GET", "/api/v1/runbooks/search", params=params)
        return result

    def groups(self) -> list[Any]:
        result: list[Any] = self._call("GET", "/api/v1/groups")
        return result

    def incidents(self, state: str = "all") -> list[Any]:
        result: list[Any] = self._call("GET", "/api/v1/incidents", params={"state": state})
        return result

    def incident(self, incident_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", f"/api/v1/incidents/{quote(incident_id, safe='')}"
        )
        return result

    def declare(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/api/v1/incidents", json=body, headers=_CLI)
        return result

    def change_incident(self, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "PATCH",
            f"/api/v1/incidents/{quote(incident_id, safe='')}",
            json=body,
            headers=_CLI,
        )
        return result

    def postmortem(self, incident_id: str) -> dict[str, Any]:
        path = f"/api/v1/incidents/{quote(incident_id, safe='')}/postmortem"
        result: dict[str, Any] = self._call("GET", path)
        return result

    def maintenances(self, past: bool = False) -> list[Any]:
        params = {"past": "true"} if past else {}
        result: list[Any] = self._call("GET", "/api/v1/maintenances", params=params)
        return result

    def maintenance(self, maintenance_id: str) -> dict[str, Any]:
        path = f"/api/v1/maintenances/{quote(maintenance_id, safe='')}"
        result: dict[str, Any] = self._call("GET", path)
        return result

    def schedule_maintenance(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/api/v1/maintenances", json=body)
        return result

    def change_maintenance(self, maintenance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/v1/maintenances/{quote(maintenance_id, safe='')}"
        result: dict[str, Any] = self._call("PATCH", path, json=body)
        return result

    def act(
        self, group_id: str, action: str, by: str, comment: str = "", duration: str = ""
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"by": by, "comment": comment}
        if duration:
            body["duration"] = duration
        result: dict[str, Any] = self._call(
            "POST",
            f"/api/v1/groups/{group_id}/{action}",
            json=body,
            headers=_CLI,
        )
        return result

    def group(self, group_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/api/v1/groups/{group_id}")
        return result

    def checklist(self, group_id: str) -> list[Any]:
        result: list[Any] = self._call("GET", f"/api/v1/groups/{group_id}/checklist")
        return result

    def tick_step(
        self, group_id: str, step: str, done: bool, by: str, comment: str = ""
    ) -> list[Any]:
        return self._mark(group_id, "checklist", {"step": step, "done": done}, by, comment)

    def keep_timer(
        self, group_id: str, timer: str, kept: bool, by: str, comment: str = ""
    ) -> list[Any]:
        return self._mark(group_id, "timers", {"timer": timer, "kept": kept}, by, comment)

    def _mark(
        self, group_id: str, what: str, body: dict[str, Any], by: str, comment: str
    ) -> list[Any]:
        result: list[Any] = self._call(
            "POST",
            f"/api/v1/groups/{group_id}/{what}",
            json={**body, "by": by, "comment": comment},
            headers=_CLI,
        )
        return result

    def audit(self, group_id: str) -> list[Any]:
        result: list[Any] = self._call("GET", f"/api/v1/groups/{group_id}/audit")
        return result

    def oncall(
        self, schedules: list[str] | None = None, at: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if schedules:
            params["schedule"] = schedules
        if at:
            params["at"] = at
        if until:
            params["until"] = until
        result: dict[str, Any] = self._call("GET", "/api/v1/oncall", params=params)
        return result

    def add_override(self, schedule: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/api/v1/schedules/{schedule}/overrides", json=body, headers=_CLI
        )
        return result

    def overrides(self, schedule: str, past: bool = False) -> list[dict[str, Any]]:
        params = {"past": "true"} if past else {}
        result: list[dict[str, Any]] = self._call(
            "GET", f"/api/v1/schedules/{schedule}/overrides", params=params
        )
        return result

    def remove_override(self, override_id: str, by: str) -> None:
        self._call("DELETE", f"/api/v1/overrides/{override_id}", params={"by": by}, headers=_CLI)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/api/v2/status")
        return result


# what the server audits a change through ("cli" rather than "api")
_CLI = {"x-tocsin-client": "cli"}


def _param(value: bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
