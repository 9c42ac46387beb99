"""The demo ticket shop: a small site protected by T-curity (``python -m web.demo``, port 5173)."""
