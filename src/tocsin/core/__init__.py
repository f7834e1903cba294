"""Services shared by the API, the CLI and the engine: the alert store and its ops."""
