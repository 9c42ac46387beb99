"""The AI server's routers, one per resource."""
