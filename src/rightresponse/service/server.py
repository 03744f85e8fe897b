"""Run the service: `rightresponse serve` and `python -m rightresponse.service` both call ``serve``."""

from __future__ import annotations

import errno
import logging
import socket
import sys

from ..errors import RightResponseError
from .security import TOKEN_ENV, is_loopback, token_from_env

log = logging.getLogger("rightresponse.service")


class ServeError(RightResponseError, ValueError):
    """The service cannot start: the address is taken, or the host cannot be listened on."""


def bind_socket(host: str, port: int) -> socket.socket:
    """Listen on host:port now, so a taken port is one clear error rather than a uvicorn traceback.

    Bound before the policies and the model load, so the error comes at once; uvicorn then
    serves on this socket (no second bind, so no race with another process).
    """
    if not 0 <= int(port) <= 65535:
        raise ServeError(f"port {port} is not between 0 and 65535")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, socktype, proto, _, addr = infos[0]
    # proto must be IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted connections only
    # then, and without it Nagle's algorithm plus delayed ACKs add ~40 ms to every response.
    sock = socket.socket(family, socktype, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is already in use (another server running?); "
                             f"stop it or choose another with --port") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ServeError(f"not allowed to listen on {host}:{port} (ports below 1024 need privileges); "
                             f"choose another with --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(policy="status-quo", host: str = "127.0.0.1", port: int = 8000, db_url: str | None = None, *,
          workspace: str | None = None, agency: str | None = None, model_path: str | None = None,
          overrides: str | None = None, store_narrative: bool = False, rate: float = 2000.0,
          burst: float = 4000.0, max_body: int = 64 * 1024, reload_interval: float = 2.0,
          read_access: str = "loopback", log_level: str = "info", allow_hosts=(), practice: str | None = None) -> None:
    """Serve the API and the console until interrupted.

    ``policy``: a preset name or a policy file (or a list; the first is the default).
    ``db_url``: ``sqlite:///rr-decisions.db`` (default), a SQLite path, or ``postgresql://user@host/db``.
    ``workspace``/``agency``: where the console's list of call types comes from (default: the
    shipped crosswalks). ``model_path``: a saved taxonomy model, so start-up does not retrain it.
    ``allow_hosts``: host names answered besides the loopback names and IP addresses (the
    ``Host`` header of requests: a defence against DNS rebinding), e.g. the machine's name.
    ``practice``: a workspace whose past calls the practice page (/practice) deals.
    Raises ServeError (port taken), PolicyError, StoreError or ValueError before serving
    anything when the setup is wrong.
    """
    _logging(log_level)
    sock = bind_socket(host, port)  # first: a taken port is reported before anything slow happens
    try:
        import uvicorn

        from .app import ServiceConfig, create_app
        from .security import LOOPBACK_NAMES
        from ..decisions.log import redact

        policies = [policy] if isinstance(policy, str) or not hasattr(policy, "__iter__") else list(policy)
        cfg = ServiceConfig(policies=policies, db_url=db_url, workspace=workspace, agency=agency,
                            model_path=model_path, overrides=overrides, store_narrative=store_narrative, rate=rate,
                            burst=burst, max_body=max_body, reload_interval=reload_interval, read_access=read_access,
                            allow_hosts=list(allow_hosts), practice=practice)
        app = create_app(cfg)
        st = app.state.rr
        if not st.token:
            log.warning("%s is not set: triage works, but decisions and policy reloads are refused", TOKEN_ENV)
        if not is_loopback(host) and read_access == "loopback":
            log.warning("listening on %s: triage from other machines needs the bearer token", host)
        if not is_loopback(host):
            log.info("answering for hosts: %s, IP addresses%s", ", ".join(LOOPBACK_NAMES + tuple(allow_hosts)),
                     "" if allow_hosts else " (add a name with --allow-host NAME)")
        log.info("policies: %s; decision log: %s; call types: %s (%d)",
                 ", ".join(f"{s.id} {s.policy.hash[:12]}" for s in st.policies.slots), redact(st.store.url),
                 st.call_types["source"], len(st.call_types["call_types"]))
        if st.practice is not None:
            deck = st.practice.deck
            log.info("practice mode: /practice deals %d cards from %d past calls (%s)", len(deck.cards), deck.calls,
                     "narrative flags" if deck.narratives else "no narratives: flags from the call type only")
        config = uvicorn.Config(app, host=host, port=int(port), access_log=False, log_level=log_level,
                                log_config=None, server_header=False, timeout_graceful_shutdown=5)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def _logging(level: str) -> None:
    root = logging.getLogger("rightresponse")
    if not root.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(h)
    root.setLevel(level.upper())
    uv = logging.getLogger("uvicorn")
    if not uv.handlers:
        uv.addHandler(root.handlers[0])
    uv.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True  # it logs client addresses and query strings


__all__ = ["ServeError", "bind_socket", "serve", "token_from_env"]
