"""The drawing app: a small local web server (server.py) and its page (static/)."""
