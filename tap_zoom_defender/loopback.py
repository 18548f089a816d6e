"""The loopback listener that catches Zoom's redirect after the admin's decision.

It binds ``127.0.0.1:PORT`` *before* the consent URL is shown (a port in use is then an error
the admin sees before clicking anything) and takes exactly one redirect that carries ``code`` or
``error`` on the callback path; stray requests (a favicon, a reload, another path) get a small
page and change nothing. The browser's request is held open until :meth:`answer`, so the page
the admin ends on tells the outcome of the whole flow (exchange, store, verification), not just
"code received".
"""

from __future__ import annotations

import html
import queue
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ANSWER_WAIT_S = 120.0
"""Longest the browser's request is held while the flow finishes (then it is told to look at
the terminal)."""
SEND_WAIT_S = 5.0
"""Longest :meth:`RedirectListener.close` waits for that page to be written."""


class _Server(ThreadingHTTPServer):
    # A previous run's TIME_WAIT must not block the port (on Windows the option would let two
    # listeners share it, so not there).
    allow_reuse_address = sys.platform != "win32"
    daemon_threads = True  # an idle browser preconnect must not keep the process alive

    def __init__(self, port: int, listener: RedirectListener) -> None:
        self.listener = listener
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Silent: a browser that went away mid-page is no reason for a traceback."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "tap-zoom-defender"
    timeout = 10  # seconds an idle connection (a browser's preconnect) may hold a thread

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the URL of a redirect holds the authorization code."""

    def do_GET(self) -> None:
        listener = self.server.listener
        url = urlsplit(self.path)
        if url.path != listener.path:
            self._page(404, "Not here", "This address only receives Zoom's redirect.")
            return
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if "code" not in params and "error" not in params:
            self._page(400, "Waiting for Zoom", "This address waits for Zoom's redirect.")
            return
        if not listener.offer(params):
            self._page(409, "Already handled", "Zoom's redirect was already received.")
            return
        try:
            ok, message = listener.replies.get(timeout=ANSWER_WAIT_S)
        except queue.Empty:
            ok, message = False, "No result yet: see the terminal that runs authorize."
        title = "Zoom is connected" if ok else "Zoom is not connected"
        try:
            self._page(200 if ok else 400, title, message)
        finally:
            listener.sent.set()

    def _page(self, status: int, title: str, message: str) -> None:
        body = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title></head><body>"
            f"<h1 id='title'>{html.escape(title)}</h1>"
            f"<p id='message'>{html.escape(message)}</p>"
            "<p>You can close this tab.</p></body></html>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class RedirectListener:
    """One redirect on ``http://127.0.0.1:PORT/<path>``; a context manager.

    Raises OSError on construction when the port cannot be bound (in use, not permitted).
    """

    def __init__(self, port: int, path: str) -> None:
        """Bind now; serve on a background thread."""
        self.path = path
        self.replies: queue.Queue[tuple[bool, str]] = queue.Queue(maxsize=1)
        self._arrived = threading.Event()
        self.sent = threading.Event()  # the redirect's page went out
        self._params: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._server = _Server(port, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="oauth-redirect",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> RedirectListener:
        """Return the listener (it listens from construction on)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Answer a browser still waiting, then stop (after its page is sent)."""
        self.close()

    def offer(self, params: dict[str, str]) -> bool:
        """Take the first redirect (handler thread); False for any later one."""
        with self._lock:
            if self._params is not None:
                return False
            self._params = params
        self._arrived.set()
        return True

    def wait(self, timeout: float) -> dict[str, str] | None:
        """Return the redirect's query parameters, or None after ``timeout`` seconds.

        A plain Event wait: a signal handler that raises (a stop request) interrupts it.
        """
        if not self._arrived.wait(timeout):
            return None
        return self._params

    def answer(self, ok: bool, message: str) -> None:
        """Tell the waiting browser the outcome (once; later calls change nothing)."""
        try:
            self.replies.put_nowait((ok, message))
        except queue.Full:
            pass

    def close(self) -> None:
        """Stop listening; the browser whose redirect was taken gets its page first."""
        if self._params is not None:
            self.answer(False, "authorize stopped: see its terminal.")
            self.sent.wait(SEND_WAIT_S)
        self._server.shutdown()
        self._server.server_close()
