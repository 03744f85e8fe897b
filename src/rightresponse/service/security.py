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
    """A client address on this machine: 127.0.0.0/8, ::1, and IPv4-mapped ::ffff:127.x.y.z
    (what a dual-stack socket reports for an IPv4 loopback client)."""
    if not host:
        return False
    if host in ("localhost", "testclient"):  # starlette's in-process test client
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class HostCheck:
    """Which ``Host`` headers the service answers: a defence against DNS rebinding.

    A web page can make the browser send requests to ``http://127.0.0.1:8000`` under a name
    the page's author controls (evil.example resolving to 127.0.0.1); the browser then sends
    ``Host: evil.example``. Only names the operator allowed are answered: the loopback names
    (and ``*.localhost``), ``allow`` (``serve --allow-host``; ``*`` allows any), and any IP
    address literal, which no page can rebind (its origin is that address). A request
    without a Host header (HTTP/1.0) comes from no browser and is answered.
    """

    def __init__(self, allow=()):
        names = {h.strip().lower().rstrip(".") for h in allow if h and h.strip()}
        self.any = "*" in names
        self.names = frozenset(names | set(LOOPBACK_NAMES))

    def ok(self, host_header: str | None, client_host: str | None = None) -> bool:
        if self.any or host_header is None:
            return True
        name = _host_name(host_header)
        if name is None:
            return False
        if name == "testserver" and client_host == "testclient":  # starlette's in-process test client
            return True
        if name in self.names or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False


def _host_name(header: str) -> str | None:
    """The name in a Host header, without the port ('[::1]:8000' -> '::1'); None if malformed."""
    h = header.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        if end < 0 or (h[end + 1:] and not h[end + 1:].startswith(":")):
            return None
        return h[1:end]
    name, _, port = h.partition(":")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def json_body(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (application/json or application/*+json).

    A web page can POST text/plain, form data or a body with no type to any address without
    asking first (no CORS preflight); application/json needs the server's consent, which this
    service never gives to other origins. So a body of any other type is refused.
    """
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


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
    """ASGI middleware: Host check, rate limit, body-size limit, JSON bodies only, security
    headers, access log. Every route (and the triage shortcut behind it) gets the same rules."""

    def __init__(self, app, *, rate: float, burst: float, max_body: int, hosts: HostCheck | None = None):
        self.app = app
        self.buckets = TokenBuckets(rate, burst)
        self.max_body = int(max_body)
        self.hosts = hosts or HostCheck()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [0]
        client = scope.get("client")
        host = _header(scope, b"host")
        if not self.hosts.ok(host, client[0] if client else None):
            shown = "".join(c if c.isprintable() else "?" for c in (host or ""))[:100]
            await _reply(send, 421, {"detail": f"this server does not answer for host {shown!r}; "
                                               f"start it with --allow-host NAME to allow it"})
            return self._log(scope, 421, t0)
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
            if body and not json_body(_header(scope, b"content-type")):
                await _reply(send, 415, {"detail": "the request body must be JSON (Content-Type: application/json)"})
                return self._log(scope, 415, t0)
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


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def _content_length(scope) -> int | None:
    v = _header(scope, b"content-length")
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


async def _reply(send, status: int, payload: dict, extra_headers=()) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra_headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
