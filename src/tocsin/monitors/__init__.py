"""Tocsin's own monitors: heartbeats that jobs ping (``heartbeats``)."""
