"""Request ids of the gateway: one per HTTP request, in the logs, the answer and Triton.

:class:`RequestIdMiddleware` takes the caller's ``X-Request-ID`` when it is a sane id
(:func:`loadcheck.logs.request_id_from`), else generates one; sets
:data:`loadcheck.logs.REQUEST_ID` for everything the request runs (its log lines carry it), and
adds ``X-Request-ID`` to the answer. The gateway passes it to Triton as the inference request's
id, so Triton's logs and traces of that photo carry it too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loadcheck.logs import REQUEST_ID, request_id_from

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Pure ASGI middleware: a request id for every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent: str | None = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-request-id":
                sent = value.decode("latin-1")
                break
        request_id = request_id_from(sent)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
