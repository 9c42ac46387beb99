"""The backend's routers, one per resource."""
