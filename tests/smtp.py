"""A small SMTP server for engine tests: it can stall after its greeting, as a mail
server that accepts connections and never answers does."""

from __future__ import annotations

import socketserver
import threading
import time


class SmtpHandler(socketserver.StreamRequestHandler):
    """One SMTP conversation (EHLO, MAIL, RCPT, DATA, QUIT); a test's server changes how it
    replies (`reply`) or takes a message (`receive_message`)."""

    name = "test-smtp"

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def converse(self) -> None:
        while line := self.rfile.readline():
            verb = line.decode(errors="replace").strip().split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply(f"250 {self.name}")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "DATA":
                self.receive_message()
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def receive_message(self) -> None:
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        body = []
        while True:
            data = self.rfile.readline()
            if not data or data in (b".\r\n", b".\n"):
                break
            body.append(data)
        with self.server.lock:
            self.server.messages.append((time.monotonic(), b"".join(body)))
        self.reply("250 OK queued")


class _Handler(SmtpHandler):
    server: SmtpServer
    timeout = 120

    def handle(self) -> None:
        server = self.server
        with server.lock:
            server.connections += 1
            stall = server.stall_next > 0
            if stall:
                server.stall_next -= 1
        self.reply("220 test-smtp ready")
        if stall:
            server.stalled.set()
            # Say nothing more: the client waits on its EHLO until it gives up.
            server.stop.wait(120)
            return
        self.converse()


class SmtpServer(socketserver.ThreadingTCPServer):
    """Listens on 127.0.0.1 (a free port); `stall_next` connections get a greeting and
    then silence."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, stall_next: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.stalled = threading.Event()
        self.stall_next = stall_next
        self.connections = 0
        self.messages: list[tuple[float, bytes]] = []
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()
