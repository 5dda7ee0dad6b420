"""The HTTP layer: a threaded server that reads each request and writes the Reply it gets.

What to answer is not decided here: the server is given one `answer(method, path, headers,
body)` function (SandboxServer.answer), called from the request's own thread.
"""

from __future__ import annotations

import logging
import socketserver
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from momentum import contract
from momentum.sandbox.replies import Reply, error_reply

logger = logging.getLogger("momentum.sandbox")

MAX_BODY_BYTES = 1024 * 1024

Answer = Callable[[str, str, Any, bytes], Reply]


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], answer: Answer) -> None:
        super().__init__(address, _Handler)
        self.answer = answer

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn), which can stall startup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (say, after its read timeout) is normal here; keep it quiet.
        logger.debug("error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    server_version = "MomentumSandbox/1.0"
    # A client that connects and sends nothing must not hold a thread for ever.
    timeout = 30

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._write(
                error_reply(413, contract.CODE_BAD_REQUEST, "Bad or too large Content-Length.")
            )
            return
        body = self.rfile.read(length) if length > 0 else b""
        try:
            reply = self.server.answer(method, path, self.headers, body)
        except Exception:
            logger.exception("failed to answer %s %s", method, path)
            reply = error_reply(500, contract.CODE_INTERNAL_ERROR, "Sandbox error.")
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client hung up before the answer to %s", self.path)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
