"""The request body guard: too large gives 413, not UTF-8 gives 400, before any parsing.

FastAPI reads a whole body into memory before it validates it, and answers a
body that is not UTF-8 with a generic message. This ASGI middleware reads the
body first, in chunks, and stops as soon as it passes the limit, whether the
client sent a Content-Length or a chunked body; then it hands the buffered body
on unchanged.
"""

from typing import Any, Awaitable, Callable, Dict, MutableMapping

import srsly

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1024 * 1024
# The longest text a request may carry, in characters: a long text holds one of
# the few worker threads while other requests wait. (annotate, a batch job
# with no one waiting, takes rows up to 100,000.)
DEFAULT_MAX_TEXT_CHARS = 10_000
# The threads that run the pipeline.
DEFAULT_WORKERS = 2
# The most texts one request may send. A request is never split, so it holds one
# worker until all its texts are done: 1,000 short texts take about 1.5 s of the
# demo pipeline on one core. (The body limit caps the characters.)
DEFAULT_MAX_BATCH = 1000
# Seconds a client has to send a whole request, headers and body, from its first
# byte (or from the connection's opening): a client that stalls is answered 408
# and its connection closed, so stalled connections cannot pile up. 1 MB at a slow
# 100 kB/s takes 10 s.
DEFAULT_REQUEST_TIMEOUT = 30.0
# Seconds an idle connection stays open between requests. A server that closes
# idle connections before its clients do races them: a client can send its next
# request on a connection the server is closing (uvicorn's own default is 5 s,
# the same as httpx's). 75 s is nginx's keepalive_timeout.
DEFAULT_KEEP_ALIVE = 75.0
BODY_METHODS = ("POST", "PUT", "PATCH")


class RequestBodyLimit:
    """ASGI middleware that refuses bodies over `max_bytes` (413) and bodies not in UTF-8 (400).

    app (ASGIApp): The application to protect.
    max_bytes (int): The largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send, 413, self._too_large(int(length)))
            return
        chunks = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, self._too_large(size, at_least=True))
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            body.decode("utf8")
        except UnicodeDecodeError as err:
            detail = (
                f"The request body is not valid UTF-8: byte 0x{body[err.start]:02x} at "
                f"position {err.start}. Send JSON encoded as UTF-8."
            )
            await self._refuse(send, 400, detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        amount = f"more than {size - 1}" if at_least else str(size)
        return (
            f"The request body has {amount} bytes; the limit is {self.max_bytes} bytes "
            f"({self.max_bytes / 2**20:g} MB). Send fewer or shorter texts per request."
        )

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        payload: Dict[str, Any] = {"detail": detail}
        body = srsly.json_dumps(payload).encode("utf8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        if status == 413:
            # The rest of the body is never read: the connection cannot be reused.
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
