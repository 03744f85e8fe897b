"""Helpers for tests and benchmarks: a throwaway PostgreSQL, free ports, a server subprocess.

``temporary_postgres`` runs Debian's own PostgreSQL binaries (``apt-get install postgresql``)
in a temporary directory on a free loopback port. As root it runs them as the ``postgres``
user (PostgreSQL refuses to run as root). It raises ``PostgresUnavailable`` when the binaries
are absent, so a test can skip cleanly.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ..errors import RightResponseError


class PostgresUnavailable(RightResponseError, RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


@contextlib.contextmanager
def temporary_postgres():
    """Yield a SQLAlchemy URL of a fresh PostgreSQL cluster; stop and delete it afterwards."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable("PostgreSQL binaries not found (apt-get install -y postgresql)")
    user = None
    if os.geteuid() == 0:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root but there is no 'postgres' user") from None
        user = "postgres"
    root = tempfile.mkdtemp(prefix="rr-pg-")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.mkdir(sock)
    if user:
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    log = os.path.join(root, "server.log")
    run = dict(user=user, capture_output=True, text=True, timeout=120, cwd=root)
    try:
        r = subprocess.run([initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"], **run)
        if r.returncode:
            raise PostgresUnavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on"
        r = subprocess.run([pg_ctl, "-D", data, "-o", opts, "-l", log, "-w", "-t", "60", "start"], **run)
        if r.returncode:
            tail = Path(log).read_text(errors="replace")[-800:] if os.path.exists(log) else r.stderr
            raise PostgresUnavailable(f"pg_ctl start failed: {tail.strip()}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], **{**run, "timeout": 60})
        shutil.rmtree(root, ignore_errors=True)


class ServerProcess:
    """``rightresponse serve ...`` (as ``python -m rightresponse.cli serve``) in its own process, the way a
    user starts it. ``args`` are the command's options; ``--host 127.0.0.1 --port PORT`` are added."""

    def __init__(self, args: list[str], port: int | None = None, env: dict | None = None, log_path=None, cwd=None):
        self.port = port or free_port()
        self.cwd = cwd
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0, ready: bool = True) -> "ServerProcess":
        cmd = [sys.executable, "-m", "rightresponse.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               *self.args]
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.cwd)
        self.wait_ready(timeout, ready)
        return self

    def wait_ready(self, timeout: float, ready: bool = True) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}" + self._tail())
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    last = json.loads(r.read())
                    if last.get("ready") or not ready:
                        return last
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"server not ready after {timeout:.0f}s: {last}" + self._tail())

    def _tail(self) -> str:
        if self.log_path and os.path.exists(self.log_path):
            return "\n" + Path(self.log_path).read_text(errors="replace")[-2000:]
        return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or an OOM kill."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()


def trained_model(path: str | os.PathLike) -> str:
    """Train the shipped taxonomy classifier once and save it at ``path`` (reused while current)."""
    from ..taxonomy.classify import default_classifier

    default_classifier(path)
    return str(path)


_shared_pg: dict = {}


def shared_postgres() -> str:
    """One throwaway PostgreSQL per process (for test modules that each need one), stopped at exit.

    Raises PostgresUnavailable when the binaries are absent or the cluster cannot start.
    """
    if "error" in _shared_pg:
        raise PostgresUnavailable(_shared_pg["error"])
    if "url" not in _shared_pg:
        import atexit

        cm = temporary_postgres()
        try:
            _shared_pg["url"] = cm.__enter__()
        except PostgresUnavailable as exc:
            _shared_pg["error"] = str(exc)
            raise
        atexit.register(cm.__exit__, None, None, None)
    return _shared_pg["url"]


def fresh_database(base_url: str, name: str) -> str:
    """Create database ``name`` on the cluster of ``base_url``; return its URL."""
    from sqlalchemy import create_engine, text

    from ..decisions.log import normalize_url

    eng = create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as con:
            con.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            con.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        eng.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


def cached_model(config) -> str:
    """The shipped classifier saved in pytest's cache (trained on the first run, reused while current)."""
    cache = getattr(config, "cache", None)
    d = Path(cache.mkdir("rightresponse-model")) if cache else Path(tempfile.gettempdir()) / "rightresponse-model"
    d.mkdir(parents=True, exist_ok=True)
    return trained_model(d / "taxonomy.pkl")
