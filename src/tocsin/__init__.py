"""Tocsin: on-call and incident response with runbooks as first-class citizens."""

__version__ = "0.1.0"
