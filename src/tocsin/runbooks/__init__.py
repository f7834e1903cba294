"""Runbooks as structured data: Markdown in, alerts/procedures/SLAs/checks out.

Public surface: `parse_runbook`, `normalize_alert_name`, `suggest_config` and the model
dataclasses. Everything here is pure (no database, HTTP or clock).
"""

from tocsin.runbooks.markdown import decode_source
from tocsin.runbooks.model import (
    AlertCategory,
    AlertProcedure,
    Cell,
    Channel,
    Check,
    Column,
    Command,
    Contact,
    Duration,
    EscalationLevel,
    EscalationMatrix,
    EscalationRow,
    Field,
    Lines,
    Note,
    Procedure,
    Runbook,
    Section,
    Sla,
    Step,
    TextBlock,
    Threshold,
    TroubleshootingRow,
    TroubleshootingTable,
)
from tocsin.runbooks.names import github_anchor, normalize_alert_name
from tocsin.runbooks.parser import parse_runbook, parse_runbook_bytes
from tocsin.runbooks.suggest import suggest_config

__all__ = [
    "AlertCategory",
    "AlertProcedure",
    "Cell",
    "Channel",
    "Check",
    "Column",
    "Command",
    "Contact",
    "Duration",
    "EscalationLevel",
    "EscalationMatrix",
    "EscalationRow",
    "Field",
    "Lines",
    "Note",
    "Procedure",
    "Runbook",
    "Section",
    "Sla",
    "Step",
    "TextBlock",
    "Threshold",
    "TroubleshootingRow",
    "TroubleshootingTable",
    "decode_source",
    "github_anchor",
    "normalize_alert_name",
    "parse_runbook",
    "parse_runbook_bytes",
    "suggest_config",
]
