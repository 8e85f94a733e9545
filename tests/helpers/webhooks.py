"""A real HTTP receiver of webhooks, in a thread of its own: it records every request, checks
its signature with the Standard Webhooks reference implementation (`standardwebhooks`, not
Binôme's code) against the secrets it is given, and answers what the test says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]  # the secrets whose verification passed

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)
    status: int = 200  # what the next requests are answered
    received: list[Received] = field(default_factory=list)

    def by_type(self, type_: str) -> list[Received]:
        return [r for r in self.received if r.event["type"] == type_]


@contextmanager
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server name)
            r = box["r"]
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = []
            for secret in r.secrets:
                try:
                    Webhook(secret).verify(body, headers)
                except WebhookVerificationError:
                    continue
                verified.append(secret)
            r.received.append(Received(self.path, headers, body, verified))
            payload = b'{"ok": true}'
            self.send_response(r.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # a burst of concurrent deliveries is not held at the door

    server = Server(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/binome")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
