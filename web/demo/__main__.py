"""``python -m web.demo``: the demo shop on port 5173 (``DEMO_HOST``/``DEMO_PORT`` override)."""

from web.demo.server import main

if __name__ == "__main__":
    main()
