"""A notification's configured texts, rendered so that a template error never loses it.

Alertmanager drops a notification whose template fails; Tocsin sends it anyway. Each
channel renders its settings (a Slack ``title``, an e-mail ``Subject``, a PagerDuty
``description``, ...) through a :class:`FieldRenderer`: when a user's template fails
when it runs (a function given the wrong type, a missing template, a method a value
lacks), that field is rendered from its default instead, the one Alertmanager fills in
(``{{ template "slack.default.title" . }}``), with the user's template files first (they
may override the default names) and then with Tocsin's own default templates; a field
with no default (a Slack field's value, a link) is left empty. The failure is logged as
a warning naming the receiver, the integration, the field and the error, and
:meth:`FieldRenderer.noted` adds it to the delivery's outcome, so the notification log
says which fields were sent with their defaults and why.

Where a message goes (e-mail ``to``/``from``, a PagerDuty routing key) has no default:
those are rendered with :meth:`~tocsin.notify.templates.Templates.render` and a failure
stays permanent (and so goes to ``tocsin.fallbacks``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from msgspec.structs import replace

from tocsin.notify.outcome import Outcome
from tocsin.notify.template_data import TemplateData
from tocsin.notify.templates import DEFAULT_TEMPLATES, TemplateRenderError, Templates

__all__ = ["FieldRenderer", "declared_defaults"]

log = logging.getLogger(__name__)

# How much of each error goes into the notification log's message.
_ERROR_EXCERPT = 200


def declared_defaults(settings: object) -> dict[str, str]:
    """Each text setting's default, by the name channels render it under (``class_``
    is ``class``), as an integration's configuration declares it."""
    if not dataclasses.is_dataclass(settings):
        return {}
    return {
        f.name.rstrip("_"): f.default
        for f in dataclasses.fields(settings)
        if isinstance(f.default, str)
    }


class FieldRenderer:
    """Renders one notification's settings for one integration, each field falling back
    to its default when its template fails (see the module's documentation)."""

    def __init__(
        self,
        templates: Templates,
        data: TemplateData,
        *,
        receiver: str,
        integration: str,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        self.templates = templates
        self.data = data
        self.receiver = receiver
        self.integration = integration
        self.defaults = dict(defaults or {})
        self._failures: dict[str, str] = {}

    def __call__(self, source: str, field: str, *, html: bool = False) -> str:
        """``source`` rendered; on a template error, ``field``'s default rendered."""
        try:
            return self.templates.render(source, self.data, html=html, field=field)
        except TemplateRenderError as exc:
            self._failed(field, exc)
        default = self.defaults.get(field, "")
        attempts = [t for t in (self.templates, DEFAULT_TEMPLATES) if t is not self.templates]
        if default != source:
            attempts.insert(0, self.templates)
        for templates in attempts:
            try:
                return templates.render(default, self.data, html=html, field=field)
            except TemplateRenderError:
                continue
        return ""

    def named(self, name: str, *, dot: Any = None, html: bool = False) -> str:
        """Named template ``name`` rendered with ``dot``; when a user's definition of
        it fails, Tocsin's own (and "" when there is none)."""
        try:
            return self.templates.render_named(name, self.data, dot=dot, html=html)
        except TemplateRenderError as exc:
            self._failed(name, exc)
        if self.templates is DEFAULT_TEMPLATES or name not in DEFAULT_TEMPLATES.names():
            return ""
        try:
            return DEFAULT_TEMPLATES.render_named(name, self.data, dot=dot, html=html)
        except TemplateRenderError:
            return ""

    def _failed(self, field: str, error: TemplateRenderError) -> None:
        if field in self._failures:
            return  # once per field (a per-alert template fails for every alert)
        message = str(error)
        self._failures[field] = message
        log.warning(
            "receiver %r, %s: the template of %s failed (%s); sent with the default "
            "template for it instead",
            self.receiver,
            self.integration,
            field,
            message,
        )

    @property
    def fallbacks(self) -> list[str]:
        """The fields whose template failed and that were sent with their default."""
        return list(self._failures)

    @property
    def note(self) -> str:
        """What the notification log should say about fallbacks ("" when none)."""
        if not self._failures:
            return ""
        errors = "; ".join(_cut(m) for m in self._failures.values())
        return f"sent with the default template for {', '.join(self._failures)} ({errors})"

    def noted(self, outcome: Outcome) -> Outcome:
        """``outcome`` with :attr:`note` added to its message."""
        note = self.note
        if not note:
            return outcome
        message = f"{outcome.message}; {note}" if outcome.message else note
        return replace(outcome, message=message)


def _cut(text: str) -> str:
    return text if len(text) <= _ERROR_EXCERPT else text[: _ERROR_EXCERPT - 1] + "…"
