"""A tiny app that declares one programmatic Dapr subscription (GET /dapr/subscribe), and
can stop declaring it, so tests can watch a real daprd register or drop a subscription
without the whole Task API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from harness.ports import LOOPBACK


class SubscribingApp:
    """Serves on a free loopback port; ``subscribe`` toggles what /dapr/subscribe answers."""

    def __init__(self, pubsub: str, topic: str, route: str = "/events") -> None:
        self.subscription = {"pubsubname": pubsub, "topic": topic, "route": route}
        self.subscribe = True
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                declared = [app.subscription] if app.subscribe else []
                body = json.dumps(declared if self.path == "/dapr/subscribe" else []).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
