"""parse_runbook: Markdown text (or bytes) -> Runbook.

Front matter and HTML comments are blanked first (`markdown.hide`): nothing in them
becomes a section, step, timer or search text, and every line number stays right.

The composition of the extractors: blocks and outline first, then per-section fields
and procedures, then every extractor over them. Parsing never raises: a failing
extractor yields nothing and leaves a line in `Runbook.warnings` instead, so one odd
construct cannot cost the whole runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TypeVar

from tocsin.runbooks.alerts import (
    fact_subsections,
    is_alert_section,
    named_like_an_alert,
    section_alert,
    subsection_fields,
    table_alerts,
)
from tocsin.runbooks.checks import prose_checks, section_checks
from tocsin.runbooks.escalation import (
    category_name,
    category_of,
    channels_in,
    contacts_in,
    is_category,
    level_of_heading,
    levels_in_lists,
)
from tocsin.runbooks.fields import RawField, collapse, field_of, fields_in
from tocsin.runbooks.markdown import (
    Block,
    Fence,
    ListBlock,
    Paragraph,
    Quote,
    Table,
    decode_source,
    hide,
    parse_blocks,
    source_lines,
    walk,
)
from tocsin.runbooks.model import (
    AlertProcedure,
    Check,
    EscalationLevel,
    EscalationMatrix,
    Lines,
    Procedure,
    Runbook,
    Section,
    TextBlock,
    TroubleshootingTable,
)
from tocsin.runbooks.sections import Outline, build_outline
from tocsin.runbooks.slas import slas_in
from tocsin.runbooks.spans import LineIndex
from tocsin.runbooks.steps import procedures_in
from tocsin.runbooks.tables import escalation_matrix, troubleshooting_list, troubleshooting_table
from tocsin.runbooks.units import Unit, units_of
from tocsin.runbooks.vocabulary import NAME_KEYS, SEVERITY_KEYS, TROUBLE_SECTION

T = TypeVar("T")


def parse_runbook(text: str | bytes, *, name: str, source: str | None = None) -> Runbook:
    """Parse a Markdown runbook. Bytes are decoded as UTF-8 with replacement; nothing in
    the input makes this raise."""
    return _Parse(decode_source(text), name, source).run()


def parse_runbook_bytes(data: bytes, *, name: str, source: str | None = None) -> Runbook:
    return parse_runbook(data, name=name, source=source)


class _Parse:
    def __init__(self, text: str, name: str, source: str | None) -> None:
        # front matter and HTML comments are not content: blanked, lines kept
        text = hide(text)[0]
        self.name = name
        self.source = source
        self.src = source_lines(text)
        self.warnings: list[str] = []
        self.blocks = self.guard("markdown", lambda: parse_blocks(text))
        self.outlines = self.guard("sections", lambda: build_outline(self.blocks, self.src))

    def guard(self, stage: str, work: Callable[[], Iterable[T]]) -> list[T]:
        """Run one extractor; if it fails, keep going without its items."""
        try:
            return list(work())
        except Exception as exc:  # never raise on odd input; say what was skipped
            self.warnings.append(f"{stage}: skipped ({type(exc).__name__}: {exc})")
            return []

    def run(self) -> Runbook:
        outlines = self.outlines
        fields = {o.index: self.guard("fields", partial(fields_in, o.body)) for o in outlines}
        procedures = {
            o.index: self.guard(
                "procedures", partial(procedures_in, o.body, o.anchor, o.name or self.name)
            )
            for o in outlines
        }
        category_outlines = {o.index for o in outlines if is_category(fields[o.index], o)}

        def context_of(unit: Unit) -> str | None:
            outline: Outline | None = unit.outline
            while outline is not None:
                if outline.index in category_outlines:
                    return category_name(outline)
                outline = outlines[outline.parent] if outline.parent is not None else None
            return unit.outline.name or None

        units = self.guard("units", lambda: [u for o in outlines for u in units_of(o)])
        alerts = self.guard("alerts", lambda: self.alerts(fields, procedures, category_outlines))
        alert_anchors = {a.section for a in alerts if a.origin == "section"}
        alert_outlines = {o.index for o in outlines if o.anchor in alert_anchors}

        channels = self.guard(
            "channels", lambda: channels_in(units, outlines, context_of, alert_outlines)
        )
        categories = self.guard(
            "categories",
            lambda: [
                category_of(outlines[i], fields[i], channels) for i in sorted(category_outlines)
            ],
        )
        troubleshooting = self.guard("troubleshooting", self.troubleshooting)
        matrices = self.guard("escalation matrices", self.matrices)
        levels = self.guard("escalation levels", lambda: self.levels(procedures))
        contacts = self.guard(
            "contacts",
            lambda: [c for o in outlines for c in contacts_in(o, fields[o.index], channels)],
        )
        checks = self.guard("checks", lambda: self.checks(units, alerts))
        # a check's polling interval is the check's, not a timer people run
        polled = {c.interval.lines for c in checks if c.interval is not None}
        slas = self.guard(
            "slas",
            lambda: [
                s
                for s in slas_in(units, context_of)
                if not (s.kind == "interval" and s.duration.lines in polled)
            ],
        )
        all_procedures = [p for o in outlines for p in procedures[o.index]]
        taken: list[Lines] = [
            item.lines
            for group in (
                all_procedures,
                alerts,
                troubleshooting,
                matrices,
                levels,
                contacts,
                channels,
                slas,
                checks,
                categories,
            )
            for item in group
        ]
        sections = self.guard("section text", lambda: self.sections(taken))
        preamble = next((o for o in outlines if o.anchor is None), None)
        title = next((o.title for o in outlines if o.level == 1), None) or next(
            (o.title for o in outlines if o.anchor is not None), None
        )
        return Runbook(
            name=self.name,
            source=self.source,
            title=title,
            line_count=len(self.src),
            preamble=TextBlock("preamble", self.raw(preamble.lines), preamble.lines)
            if preamble is not None
            else None,
            sections=tuple(sections),
            procedures=tuple(all_procedures),
            alerts=tuple(alerts),
            troubleshooting=tuple(troubleshooting),
            escalation_matrices=tuple(matrices),
            escalation_levels=tuple(levels),
            categories=tuple(categories),
            contacts=tuple(contacts),
            channels=tuple(channels),
            slas=tuple(slas),
            checks=tuple(checks),
            warnings=tuple(self.warnings),
        )

    def raw(self, lines: Lines) -> str:
        return "\n".join(self.src[lines[0] - 1 : lines[1]])

    def alerts(
        self,
        fields: dict[int, list[RawField]],
        procedures: dict[int, list[Procedure]],
        categories: set[int],
    ) -> list[AlertProcedure]:
        out: list[AlertProcedure] = []
        found: dict[int, tuple[list[RawField], list[Procedure], list[Outline]]] = {}
        for o in self.outlines:
            parent = self.outlines[o.parent] if o.parent is not None else None
            subsections = fact_subsections(o, self.outlines)
            own_fields = fields[o.index] + subsection_fields(subsections)
            own_procedures = procedures[o.index] + [
                p for sub in subsections for p in procedures[sub.index]
            ]
            # numbered steps under it, in its sub-sections too, but not in a section
            # that holds other alerts' sections (`# PaymentsServiceRunbook`)
            under = self.descendants(o)
            numbered = any(procedures[d.index] for d in [o, *under]) and not any(
                named_like_an_alert(d.name) or _keys(fields[d.index]) & (SEVERITY_KEYS | NAME_KEYS)
                for d in under
            )
            if o.index not in categories and is_alert_section(
                o, own_fields, bool(own_procedures), parent, numbered
            ):
                found[o.index] = (own_fields, own_procedures, subsections)
            out.extend(table_alerts(o))
        nested = set(found)
        for index, (own_fields, own_procedures, subsections) in found.items():
            o = self.outlines[index]
            parent = self.outlines[o.parent] if o.parent is not None else None
            if not own_procedures:
                # the steps sit under a sub-heading (`### Mitigation`): those are its
                # steps (not those of an alert nested in it)
                own_procedures = [
                    p for d in self.descendants(o, skip=nested) for p in procedures[d.index]
                ]
            names = {}
            if parent is not None and parent.index in categories:
                names[o.anchor or ""] = category_name(parent)
            out.append(section_alert(o, own_fields, own_procedures, names, subsections))
        return sorted(out, key=lambda a: a.lines)

    def descendants(self, outline: Outline, skip: set[int] | None = None) -> list[Outline]:
        """The sections under ``outline``, in order; none of those in ``skip`` nor under
        them."""
        out: list[Outline] = []
        for child in outline.children:
            if skip is None or child not in skip:
                out.append(self.outlines[child])
                out.extend(self.descendants(self.outlines[child], skip))
        return out

    def troubleshooting(self) -> list[TroubleshootingTable]:
        out: list[TroubleshootingTable] = []
        for o in self.outlines:
            for block in walk(o.body):
                if isinstance(block, Table):
                    table = troubleshooting_table(block, o.anchor)
                    if table is not None:
                        out.append(table)
            if o.anchor is not None and TROUBLE_SECTION.search(o.name):
                for block in o.body:
                    if isinstance(block, ListBlock):
                        items = []
                        for item in block.items:
                            found = field_of(item.lead) if item.lead is not None else None
                            if found is not None:
                                rest = " ".join(
                                    collapse(b.inline.text)
                                    for b in walk(item.blocks[1:])
                                    if isinstance(b, Paragraph)
                                )
                                fix = collapse(f"{found.value.text} {rest}")
                                items.append((found.key, fix, item.lines))
                        listed = troubleshooting_list(items, o.anchor)
                        if listed is not None:
                            out.append(listed)
        return sorted(out, key=lambda t: t.lines)

    def matrices(self) -> list[EscalationMatrix]:
        out: list[EscalationMatrix] = []
        for o in self.outlines:
            for block in walk(o.body):
                if isinstance(block, Table):
                    matrix = escalation_matrix(block, o.anchor)
                    if matrix is not None:
                        out.append(matrix)
        return out

    def levels(self, procedures: dict[int, list[Procedure]]) -> list[EscalationLevel]:
        out: list[EscalationLevel] = []
        for o in self.outlines:
            level = level_of_heading(o, self.outlines, procedures[o.index])
            if level is not None:
                out.append(level)
            out.extend(levels_in_lists(o, self.outlines))
        return out

    def checks(self, units: Sequence[Unit], alerts: Sequence[AlertProcedure]) -> list[Check]:
        out: list[Check] = []
        skip: list[Lines] = [a.lines for a in alerts if a.origin == "section"]
        for o in self.outlines:
            found = section_checks(o)
            if found and o.body_lines is not None:
                skip.append(o.body_lines)
            out.extend(found)
        out.extend(prose_checks(units, skip))
        return sorted(out, key=lambda c: c.lines)

    def sections(self, taken: Sequence[Lines]) -> list[Section]:
        out: list[Section] = []
        index = LineIndex(taken)
        by_index = {o.index: o for o in self.outlines}
        for o in self.outlines:
            if o.anchor is None:
                continue
            parent = by_index[o.parent].anchor if o.parent is not None else None
            children = tuple(a for c in o.children if (a := by_index[c].anchor) is not None)
            unclassified = tuple(
                TextBlock(_kind(block), self.raw(block.lines), block.lines)
                for block in o.body
                if not index.overlaps(block.lines)
            )
            out.append(
                Section(
                    anchor=o.anchor,
                    title=o.title,
                    level=o.level,
                    lines=o.lines,
                    parent=parent,
                    children=children,
                    text=self.raw(o.body_lines) if o.body_lines else "",
                    body_lines=o.body_lines,
                    unclassified=unclassified,
                )
            )
        return out


def _keys(fields: Sequence[RawField]) -> set[str]:
    return {f.norm for f in fields}


def _kind(block: Block) -> str:
    if isinstance(block, Paragraph):
        return "paragraph"
    if isinstance(block, ListBlock):
        return "list"
    if isinstance(block, Fence):
        return "code"
    if isinstance(block, Table):
        return "table"
    if isinstance(block, Quote):
        return "quote"
    return getattr(block, "kind", "other")
