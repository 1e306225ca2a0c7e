"""How `serve` listens: a socket bound before the pipeline loads, and uvicorn with timeouts.

`bind_socket` turns a port in use, an address not of this machine or a host
name that does not resolve into a `ServeError` that says what to change, before
the pipeline spends seconds loading. `make_server` runs uvicorn's h11 protocol
with a request timeout that uvicorn lacks: uvicorn closes a connection that
stays idle after an answer (keep-alive) but waits without end for a request
that never completes, so clients that send part of their headers or body (or
nothing) could hold connections open for as long as they liked.
"""

import asyncio
import errno
import socket
from typing import Optional

import h11
import srsly
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import DEFAULT_KEEP_ALIVE, DEFAULT_REQUEST_TIMEOUT

# Connections the kernel queues before uvicorn accepts them (uvicorn's default).
BACKLOG = 2048


class ServeError(Exception):
    """Why the service cannot start, for the command line."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host and port, or a ServeError that says what to change.

    host (str): An address or host name of this machine.
    port (int): The port, 0 to 65535; 0 lets the system choose a free one.
    RETURNS (socket.socket): The socket, listening; its getsockname() has the port.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise ServeError(f"cannot listen on {where}: a port is a number from 0 to 65535 (--port).")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as err:
        raise ServeError(
            f"cannot listen on {where}: {host!r} is neither an address nor a host name this "
            f"machine can resolve ({err}). Give --host an address of this machine: 127.0.0.1 "
            f"for this machine alone, 0.0.0.0 for every network interface."
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restarted server may reuse a port its predecessor left in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as err:
        sock.close()
        raise ServeError(f"cannot listen on {where}: {_bind_problem(err, port)}") from None
    return sock


def _bind_problem(err: OSError, port: int) -> str:
    if err.errno == errno.EADDRINUSE:
        return (
            "the port is in use, by another server or an earlier `serve` still running. "
            "Choose another --port (0: any free port), or stop the process that holds it."
        )
    if err.errno == errno.EADDRNOTAVAIL:
        return (
            "that is not an address of this machine. Give --host one of its addresses: "
            "127.0.0.1 for this machine alone, 0.0.0.0 for every network interface."
        )
    if err.errno == errno.EACCES and 0 < port < 1024:
        return "ports below 1024 need administrator rights. Choose a --port from 1024 up."
    return f"{err.strerror or err}. Check --host and --port."


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, which also closes a connection whose request is not complete
    within `request_timeout` seconds of its first byte (or of the connection's opening).

    The time runs while a request is incomplete: not while the app answers, and not
    while the connection idles between requests (uvicorn's keep-alive covers that).
    """

    request_timeout: float = DEFAULT_REQUEST_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._request_timer: Optional[asyncio.TimerHandle] = None
        self._request_started = False
        super().connection_made(transport)
        self._start_request_timer()

    def data_received(self, data: bytes) -> None:
        self._request_started = True
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        self._request_started = False
        super().on_response_complete()
        self._follow_request()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._stop_request_timer()
        super().connection_lost(exc)

    def _follow_request(self) -> None:
        # IDLE with bytes received: headers in part; SEND_BODY: a body in part.
        state = self.conn.their_state
        if state is h11.SEND_BODY or (state is h11.IDLE and self._request_started):
            self._start_request_timer()
        else:
            self._stop_request_timer()

    def _start_request_timer(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _stop_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and self.cycle.response_started
        if self._request_started and not (answering and not self.cycle.response_complete):
            self.transport.write(_timeout_answer(self.request_timeout))
        self.transport.close()


def _timeout_answer(seconds: float) -> bytes:
    detail = (
        f"The request was not complete within {seconds:g} s (--request-timeout): the "
        f"connection is closed. Send the whole request at once."
    )
    body = srsly.json_dumps({"detail": detail}).encode("utf8")
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def make_server(
    app,
    *,
    keep_alive: float = DEFAULT_KEEP_ALIVE,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    log_level: str = "info",
) -> uvicorn.Server:
    """A uvicorn server for an app, with the keep-alive and request timeouts; run it on sockets.

    app: The ASGI application (spacy_mtl.serve.app.create_app).
    keep_alive (float): Seconds an idle connection stays open between requests.
    request_timeout (float): Seconds a client has to send a whole request.
    log_level (str): uvicorn's log level.
    RETURNS (uvicorn.Server): Call its run(sockets=[bind_socket(...)]).
    """
    protocol = type(
        "TimedH11Protocol", (TimedH11Protocol,), {"request_timeout": float(request_timeout)}
    )
    config = uvicorn.Config(
        app, http=protocol, timeout_keep_alive=keep_alive, log_level=log_level, ws="none"
    )
    return uvicorn.Server(config)
