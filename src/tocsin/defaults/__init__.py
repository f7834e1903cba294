"""Defaults shared by the server and the CLI, and the bundled example configuration."""

from pathlib import Path

EXAMPLE_CONFIG = Path(__file__).resolve().parent / "alertmanager.yml"
DEFAULT_LISTEN = "127.0.0.1:9093"  # Alertmanager's port, so clients need no change
DEFAULT_URL = f"http://{DEFAULT_LISTEN}"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
