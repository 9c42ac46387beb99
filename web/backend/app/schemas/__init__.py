"""Request and response bodies, one module per resource (the OpenAPI contract the SDK follows)."""
