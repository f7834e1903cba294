"""Incidents: a coordinated response (severity, roles, timeline, status-page updates,
post-mortem) that links alert groups. Pure: no database, HTTP or clock inside."""
