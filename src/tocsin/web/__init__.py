"""The web console's pages (server-rendered HTML)."""
