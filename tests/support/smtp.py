"""A mail server of a test's own: just enough SMTP for Django's smtp backend.

It listens on a loopback port, answers EHLO, MAIL, RCPT, DATA and QUIT, and
keeps each message it accepts in ``messages`` (raw text, headers first).
Start it late to play a mail server that was down; ``stop()`` takes it down.
"""

import socket
import socketserver
import threading
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def start(self) -> "SmtpServer":
        outer = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                body: list[str] | None = None
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if body is not None:
                        if line == ".":
                            with outer._lock:
                                outer.messages.append("\n".join(body))
                            body = None
                            self.reply("250 OK: queued")
                        else:
                            body.append(line[1:] if line.startswith("..") else line)
                        continue
                    verb = line[:4].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.reply("250 localhost")
                    elif verb == "DATA":
                        body = []
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:  # MAIL, RCPT, RSET, NOOP
                        self.reply("250 OK")

        self._server = _Server(("127.0.0.1", self.port), Session)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 10) -> list[str]:
        """Return the messages once there are *count* of them (or at timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)

    def settings(self) -> dict[str, object]:
        """Django settings that send mail here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 5,
        }
