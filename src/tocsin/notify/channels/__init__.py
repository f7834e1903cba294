"""Notification channels: adapters that deliver one notification and report an Outcome.

Each channel module has ``async def send(notification, config, client, *, templates)``
(email takes an :class:`~tocsin.notify.channels.email.SMTPClient` instead of an HTTP
client) and never raises for a receiver's failure. :mod:`.registry` binds them to a
receiver's configuration.
"""
