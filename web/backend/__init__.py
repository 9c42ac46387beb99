"""The T-curity backend: sites and keys, the challenge flow, siteverify, rate limits and trace collection (:8000)."""
