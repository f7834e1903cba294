"""``tocsin runbook lint``: what makes a runbook fail its reader at 3 a.m.

Two kinds of findings, each with file and line:

* coverage, across the config, the Prometheus rule files and the runbooks: an alert the
  config routes or a rule fires with no procedure in any runbook, and a procedure for
  an alert that nothing names;
* quality, inside one runbook: procedures without steps, placeholders left in commands
  (``<pod-name>``, ``$NAMESPACE``), TODO stubs, commands pasted together with their
  output (a reader copies the output and runs it), and a code fence or HTML comment
  never closed (it swallows the rest of its block, at top level the rest of the file:
  later sections and alerts vanish; an error when a heading is among what it hides).

Pure: the caller reads the files and hands in text, parsed runbooks and alert names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from markdown_it import MarkdownIt

from tocsin.runbooks.markdown import decode_source, hide
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.names import normalize_alert_name, runbook_for_url
from tocsin.runbooks.placeholders import PLACEHOLDER


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int
    rule: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity.value}: {self.rule}: {self.message}"


@dataclass(frozen=True, slots=True)
class NamedAlert:
    """An alert name as the config or a rule file names it, and where; ``link`` is
    where it says the alert's runbook is (a rule's ``runbook_url``, a config link),
    and ``explicit`` that the link must name a known runbook (a config link does; a
    ``runbook_url`` may be a wiki page)."""

    name: str
    file: str
    line: int
    link: str = ""
    explicit: bool = False


# placeholders: <pod-name>, <service> (PLACEHOLDER) -- but not HTML-ish tags in prose;
# $NAMESPACE, ${POD}; not $1, $?, $(...), or lower-case shell variables set in the block
_DOLLAR = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)\}?")
_TODO = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b|\[(?:link to|insert|add)[^\]]*\]", re.IGNORECASE)
_PROMPT = re.compile(r"^\s*(\$|#|>|PS>)\s+\S")
_SHELL = {"bash", "sh", "shell", "zsh", "console", "shell-session", "terminal", ""}
_HTML_TAGS = {"br", "b", "i", "p", "div", "span", "code", "pre", "details", "summary"}

_MD = MarkdownIt("commonmark").enable("table")


def lint_runbook(book: Runbook, text: str, file: str) -> list[Finding]:
    """Quality findings inside one runbook."""
    found: list[Finding] = []
    for proc in book.alerts:
        if not proc.steps:
            found.append(
                Finding(
                    file,
                    proc.lines[0],
                    "no-steps",
                    Severity.ERROR,
                    f"alert procedure {proc.name!r} has no steps",
                )
            )
    for listed in book.procedures:
        if not listed.steps:
            found.append(
                Finding(
                    file,
                    listed.lines[0],
                    "no-steps",
                    Severity.ERROR,
                    f"procedure {listed.title!r} has no steps",
                )
            )
    found.extend(_placeholders(book, file))
    found.extend(_todos(text, file))
    found.extend(_mixed_output(text, file))
    found.extend(_unclosed(text, file))
    return sorted(set(found), key=lambda f: (f.line, f.rule, f.message))


def _placeholders(book: Runbook, file: str) -> Iterable[Finding]:
    commands = [c for p in book.procedures for s in p.steps for c in s.commands]
    commands += [c for a in book.alerts for s in a.steps for c in s.commands]
    for c in dict.fromkeys(commands):
        for offset, line in enumerate(c.text.splitlines()):
            names = [m for m in PLACEHOLDER.findall(line) if m.lower() not in _HTML_TAGS]
            names += [f"${m}" for m in _DOLLAR.findall(line) if not _assigned(c.text, m)]
            # a fenced block's text starts on the line after its opening fence
            number = c.lines[0] + offset + (1 if c.block else 0)
            for name in dict.fromkeys(names):
                shown = name if name.startswith("$") else f"<{name}>"
                yield Finding(
                    file,
                    number,
                    "placeholder",
                    Severity.WARNING,
                    f"command has an unresolved placeholder {shown}: {line.strip()[:80]}",
                )


def _assigned(command: str, name: str) -> bool:
    """``NAMESPACE=prod; kubectl -n $NAMESPACE ...`` sets what it uses."""
    return re.search(rf"(^|[\s;&]|export\s+){name}=", command) is not None


def _todos(text: str, file: str) -> Iterable[Finding]:
    for number, line in enumerate(text.splitlines(), 1):
        m = _TODO.search(line)
        if m:
            yield Finding(
                file, number, "todo", Severity.WARNING, f"unfinished: {line.strip()[:100]}"
            )


def _mixed_output(text: str, file: str) -> Iterable[Finding]:
    """A shell block whose lines are partly prompts (``$ cmd``) and partly not: the
    output was pasted with the command."""
    for token in _MD.parse(text):
        if token.type != "fence" or token.map is None:
            continue
        lang = token.info.strip().split(" ")[0].lower() if token.info else ""
        if lang not in _SHELL:
            continue
        lines = [ln for ln in token.content.splitlines() if ln.strip()]
        prompts = [ln for ln in lines if _PROMPT.match(ln) and not ln.lstrip().startswith("# ")]
        if prompts and len(prompts) < len(lines):
            others = [ln for ln in lines if ln not in prompts and not ln.lstrip().startswith("#")]
            if others:
                yield Finding(
                    file,
                    token.map[0] + 1,
                    "command-output",
                    Severity.WARNING,
                    "code block mixes commands ($ ...) with their output: "
                    f"{others[0].strip()[:60]!r}",
                )


_HEADING = re.compile(r"^[ \t>]*#{1,6}(?:[ \t]|$)")


def _unclosed(text: str, file: str) -> Iterable[Finding]:
    """A code fence or an HTML comment that is never closed, and the lines it takes."""
    text = decode_source(text)
    shown, hidden = hide(text)
    lines = shown.split("\n")
    spans: list[tuple[str, int, int, str]] = [
        ("unclosed-comment", h.lines[0], h.lines[1], "HTML comment opened here is never closed")
        for h in hidden
        if h.kind == "comment" and not h.closed
    ]
    for token in _MD.parse(shown):
        if token.type != "fence" or token.map is None:
            continue
        first, end = token.map[0], token.map[1] - 1
        closing = re.compile(rf"[ \t>]*{re.escape(token.markup[:1])}{{{len(token.markup)},}}\s*")
        if end > first and closing.fullmatch(lines[end]):
            continue
        spans.append(
            ("unclosed-fence", first + 1, end + 1, "code fence opened here is never closed")
        )
    original = text.split("\n")
    for rule, first, last, why in spans:
        while last > first and not original[last - 1].strip():
            last -= 1
        swallowed = any(_HEADING.match(ln) for ln in original[first:last])
        kind = "code" if rule == "unclosed-fence" else "hidden"
        yield Finding(
            file,
            first,
            rule,
            Severity.ERROR if swallowed else Severity.WARNING,
            f"{why}; lines {first}-{last} are {kind}",
        )


def lint_coverage(
    books: Mapping[str, tuple[Runbook, str]], named: Iterable[NamedAlert]
) -> list[Finding]:
    """Alerts named by the config or rules without a procedure, links to runbooks or
    sections that do not exist, and procedures whose alert nothing names. ``books``:
    runbook name -> (runbook, its file)."""
    named = list(named)
    procedures = {proc.key: (proc, file) for book, file in books.values() for proc in book.alerts}
    found: list[Finding] = []
    used: set[int] = set()  # ids of the procedures some named alert reaches
    for alert in named:
        linked = _linked(books, alert)
        if isinstance(linked, Finding):
            found.append(linked)
            continue
        if linked is not None:
            book, anchor = linked
            proc = book.procedure_at(anchor, alert.name)
            if proc is not None:
                used.add(id(proc))
            elif sum(p.section == anchor for p in book.alerts) > 1:
                why = (
                    f"links alert {alert.name!r} to {alert.link!r}, a section of several "
                    "procedures, none of that name: its notifications carry no steps"
                )
                found.append(
                    Finding(alert.file, alert.line, "ambiguous-link", Severity.WARNING, why)
                )
            else:
                # a health-check or overview section, say: the page links there, but
                # the responder gets no first steps with it
                why = (
                    f"links alert {alert.name!r} to {alert.link!r}, which holds no "
                    "procedure (no steps under an alert's name): its notifications carry "
                    "no steps"
                )
                found.append(
                    Finding(alert.file, alert.line, "link-without-steps", Severity.WARNING, why)
                )
            continue
        proc_file = procedures.get(normalize_alert_name(alert.name))
        if proc_file is not None:
            used.add(id(proc_file[0]))
            continue
        found.append(
            Finding(
                alert.file,
                alert.line,
                "no-runbook",
                Severity.ERROR,
                f"alert {alert.name!r} has no runbook procedure",
            )
        )
    if named:
        for _, (proc, file) in sorted(procedures.items()):
            if id(proc) not in used:
                found.append(
                    Finding(
                        file,
                        proc.lines[0],
                        "unused-procedure",
                        Severity.WARNING,
                        f"no rule or route names alert {proc.name!r}",
                    )
                )
    return found


def broken_links(
    books: Mapping[str, tuple[Runbook, str]], named: Iterable[NamedAlert]
) -> list[Finding]:
    """The links of ``named`` to a runbook or a section that does not exist."""
    return [f for alert in named if isinstance(f := _linked(books, alert), Finding)]


def _linked(
    books: Mapping[str, tuple[Runbook, str]], alert: NamedAlert
) -> tuple[Runbook, str] | Finding | None:
    """The runbook and anchor an alert's link reaches; a finding when the link names a
    runbook or section that does not exist; None when it has no link to a runbook."""
    if not alert.link:
        return None
    target = runbook_for_url(alert.link, books)
    if target is None:
        if not alert.explicit:
            return None  # a wiki page, say: the alert may still have a procedure by name
        why = f"links alert {alert.name!r} to {alert.link!r}: no runbook of that name"
        return Finding(alert.file, alert.line, "broken-link", Severity.ERROR, why)
    name, anchor = target
    book = books[name][0]
    if anchor and book.section(anchor) is None:
        why = f"links alert {alert.name!r} to {alert.link!r}: {name!r} has no section #{anchor}"
        return Finding(alert.file, alert.line, "broken-link", Severity.ERROR, why)
    return book, anchor
