"""The service's guard rails: bearer tokens, a per-client token bucket, a body-size cap, and an
access log that never carries personal data.

The guard is one plain ASGI middleware rather than a stack of framework middlewares: it
runs on every request, and at hundreds of requests a second each layer's overhead shows in
the p99. The access log records method, route, status and duration only: no query string,
no client address, no body, so neither a call-taker id nor the text of a call reaches a log.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import os
import time

TOKEN_ENV = "RIGHTRESPONSE_API_TOKEN"

access_log = logging.getLogger("rightresponse.service.access")

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def token_from_env() -> str | None:
    t = os.environ.get(TOKEN_ENV, "").strip()
    return t or None


def token_ok(expected: str | None, authorization: str | None) -> bool:
    """Constant-time comparison of ``Authorization: Bearer <token>`` with the configured token."""
    if not expected or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in ("localhost", "testclient"):  # starlette's in-process test client
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TokenBuckets:
    """One token bucket per client: ``rate`` requests a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float, max_clients: int = 10_000):
        self.rate = float(rate)
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self._b: dict[str, list[float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 if the request may go ahead, else the seconds to wait for the next token."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        b = self._b.get(key)
        if b is None:
            if len(self._b) >= self.max_clients:  # forget the idlest clients rather than grow
                for k in sorted(self._b, key=lambda k: self._b[k][1])[: self.max_clients // 10 or 1]:
                    del self._b[k]
            b = self._b[key] = [self.burst, now]
        tokens = min(self.burst, b[0] + (now - b[1]) * self.rate)
        b[1] = now
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return 0.0
        b[0] = tokens
        return (1.0 - tokens) / self.rate


class Guard:
    """ASGI middleware: rate limit, body-size limit, security headers, access log."""

    def __init__(self, app, *, rate: float, burst: float, max_body: int):
        self.app = app
        self.buckets = TokenBuckets(rate, burst)
        self.max_body = int(max_body)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [0]
        client = scope.get("client")
        wait = self.buckets.take(client[0] if client else "-")
        if wait:
            await _reply(send, 429, {"detail": "too many requests: slow down"},
                         [(b"retry-after", str(max(1, math.ceil(wait))).encode())])
            return self._log(scope, 429, t0)

        if scope["method"] in ("POST", "PUT", "PATCH"):
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body:
                await _reply(send, 413, {"detail": f"request body too large (limit {self.max_body} bytes)"})
                return self._log(scope, 413, t0)
            # Read the (small) body up front so a body without Content-Length is capped too.
            chunks, size = [], 0
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > self.max_body:
                    await _reply(send, 413, {"detail": f"request body too large (limit {self.max_body} bytes)"})
                    return self._log(scope, 413, t0)
                chunks.append(chunk)
                if not msg.get("more_body"):
                    break
            body = b"".join(chunks)
            sent = [False]

            async def replay():
                if not sent[0]:
                    sent[0] = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            inner_receive = replay
        else:
            inner_receive = receive

        async def send_wrapper(msg):
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
                headers = list(msg.get("headers", []))
                names = {h[0].lower() for h in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if scope["path"].startswith("/v1/") and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                msg = {**msg, "headers": headers}
            await send(msg)

        try:
            await self.app(scope, inner_receive, send_wrapper)
        finally:
            self._log(scope, status[0] or 500, t0)

    @staticmethod
    def _log(scope, status: int, t0: float) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        route = scope.get("route")
        p = scope.get("path", "")
        path = getattr(route, "path", None) or (p if p in KNOWN_PATHS else _safe_path(p))
        access_log.info("%s %s %d %.1fms", scope.get("method", "-"), path, status, (time.perf_counter() - t0) * 1000)


KNOWN_PATHS = frozenset({"/", "/healthz", "/openapi.json", "/v1/triage", "/v1/decisions", "/v1/decisions/summary",
                         "/v1/policies", "/v1/policies/reload", "/v1/call-types", "/v1/console"})


def _safe_path(path: str) -> str:
    # Unknown paths could carry anything: keep the first segment only.
    parts = path.split("/")
    return "/".join(parts[:2]) + ("/..." if len(parts) > 2 else "") if len(path) > 0 else "/"


def _content_length(scope) -> int | None:
    for k, v in scope.get("headers", ()):
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


async def _reply(send, status: int, payload: dict, extra_headers=()) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra_headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
