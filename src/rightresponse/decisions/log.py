"""The decision log: what the policy recommended and what the call-taker actually dispatched.

One table, written through SQLAlchemy Core so the same code runs on a SQLite file (the
default: nothing to install) and on PostgreSQL (a centre with several consoles). Every
write is committed before the caller is told it succeeded: SQLite runs in WAL mode with
``synchronous=FULL`` (the commit is on disk), PostgreSQL with its default synchronous
commit. A decision's id is the idempotency key: replaying the same request after a lost
response (a crash, a timeout) never records it twice.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text, create_engine,
                        event, false, func, insert, inspect, select, text)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlalchemy.schema import CreateColumn

from ..errors import RightResponseError
from ..private import create_private_file

DEFAULT_DB = "sqlite:///rr-decisions.db"  # next to DEFAULT_WORKSPACE = "rr-workspace"

metadata = MetaData()

decisions = Table(
    "decisions", metadata,
    Column("id", String(36), primary_key=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),  # server clock, UTC
    Column("recommended_at", DateTime(timezone=True)),  # when the console showed the recommendation
    Column("call_at", String(40)),  # the call's local time as given to triage
    Column("policy", String(100), nullable=False),
    Column("policy_hash", String(64), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("category", String(100)),
    Column("call_type", String(200)),  # only a known call type (or any text when narratives are stored)
    Column("call_type_known", Boolean, nullable=False),
    Column("priority", Integer),
    Column("flags", Text, nullable=False),  # JSON {flag: true/false}: the answers given
    Column("recommended", String(32), nullable=False),
    Column("recommended_co", String(32)),
    Column("fallback", String(32)),
    Column("intended", String(32), nullable=False),  # the rule's responder before hours/availability
    Column("dispatched", String(32), nullable=False),
    Column("dispatched_co", String(32)),
    Column("accepted", Boolean, nullable=False),
    Column("override_reason", String(40)),
    Column("override_note", Text),
    Column("eligible", Boolean, nullable=False),  # the rule sent the call to an alternative responder
    Column("handled", Boolean, nullable=False),  # ... and that responder was dispatched
    Column("call_taker", String(64), nullable=False),
    Column("narrative", Text),  # only when the service is configured to store narratives
    # Practice mode (serve --practice): a trainee's answer to a past call, not a dispatch. Never
    # counted in the dispatch-practice summary or the assessment (see summary.dispatch_only).
    Column("practice", Boolean, nullable=False, server_default=false()),
    Column("unsafe", Boolean),  # practice only: a responder without police where the screen failed or was skipped
    Index("ix_decisions_recorded_at", "recorded_at"),
)

# Columns added after the first release, with the definition an older log gets them by
# (``DecisionStore`` adds what is missing when it opens a log: the migration path).
ADDED_COLUMNS = ("practice", "unsafe")

COLUMNS = tuple(c.name for c in decisions.columns)


class StoreError(RightResponseError, ValueError):
    """A database URL that cannot be used, with the reason."""


def normalize_url(url: str | os.PathLike | None) -> str:
    """A SQLAlchemy URL from what a user types: a URL, or a path to a SQLite file.

    ``postgresql://`` picks whichever PostgreSQL driver is installed (psycopg 3, else psycopg2).
    """
    if url is None or str(url) == "":
        url = DEFAULT_DB
    s = str(url)
    if "://" not in s:
        s = "sqlite:///" + str(Path(s).expanduser().resolve())
    authority = s.split("://", 1)[1].split("/", 1)[0]
    if authority.count("@") > 1:  # make_url would take part of the password for the host
        raise StoreError(f"cannot read database URL {redact_text(s)!r}: the user or password holds '@'; "
                         "write it as %40")
    try:
        u = make_url(s)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise StoreError(redact_text(f"cannot read database URL {s!r}: {exc}", s)) from None
    if u.drivername in ("postgresql", "postgres"):
        driver = _pg_driver()
        u = u.set(drivername=f"postgresql+{driver}")
    elif not (u.drivername.startswith("sqlite") or u.drivername.startswith("postgresql")):
        raise StoreError(f"database {u.drivername!r} is not supported: use sqlite:///FILE or postgresql://USER@HOST/DB")
    return u.render_as_string(hide_password=False)


def _pg_driver() -> str:
    for mod, name in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        try:
            __import__(mod)
            return name
        except ImportError:
            continue
    raise StoreError("a postgresql:// URL needs a driver: pip install 'rightresponse[postgres]' (psycopg)")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return redact_text(str(url))


_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)[^\s'\"]*@")


def redact_text(text: str, url: str | None = None) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ***, and
    with ``url``'s own password gone wherever else it appears (a driver may quote it)."""
    out = _CREDENTIALS.sub(r"\1***@", str(text))
    if url:
        try:
            pw = make_url(url).password
        except (ArgumentError, ValueError):
            m = re.search(r"://[^:/@]*:([^@]*)@", url)
            pw = m.group(1) if m else None
        if pw and len(str(pw)) >= 3:  # (a one- or two-letter password would garble the message)
            out = out.replace(str(pw), "***")
    return out


MAX_BATCH = 256


class _Job:
    __slots__ = ("row", "done", "result", "error")

    def __init__(self, row: dict):
        self.row = row
        self.done = threading.Event()
        self.result: Recorded | None = None
        self.error: Exception | None = None


@dataclass(frozen=True)
class Recorded:
    row: dict
    created: bool  # False: the id was already recorded with the same content (a replay)


class ConflictError(RightResponseError, ValueError):
    """The id was already recorded with different content."""


class DecisionStore:
    """Append-only decision log. Thread-safe; ``record`` returns only after the commit."""

    def __init__(self, url: str | os.PathLike | None = None, *, create: bool = True):
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kw: dict = {"future": True}
        if self.dialect == "sqlite":
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kw.update(pool_size=8, max_overflow=8, pool_pre_ping=True)
        try:
            self.engine: Engine = create_engine(self.url, **kw)
        except Exception as exc:  # bad driver options and the like
            raise StoreError(redact_text(f"cannot open {redact(self.url)}: {exc}", self.url)) from None
        if self.dialect == "sqlite":
            self._sqlite_pragmas(self.engine)
            path = make_url(self.url).database
            if path and path != ":memory:" and create:
                _create_private(Path(path))
        self._queue: list[_Job] = []
        self._cv = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False
        if create:
            try:
                metadata.create_all(self.engine)
                self._add_missing_columns()
            except Exception as exc:
                raise StoreError(redact_text(f"cannot open decision log {redact(self.url)}: {_one_line(exc)}",
                                             self.url)) from None

    def _add_missing_columns(self) -> None:
        """Bring a log written by an older release up to this schema: each column added since
        (ADDED_COLUMNS) is added with its default, so old rows read as dispatch decisions
        (practice false). Idempotent; a second process doing the same at the same moment is fine."""
        have = {c["name"] for c in inspect(self.engine).get_columns("decisions")}
        prep = self.engine.dialect.identifier_preparer
        for name in ADDED_COLUMNS:
            if name in have:
                continue
            ddl = CreateColumn(decisions.c[name]).compile(dialect=self.engine.dialect)
            try:
                with self.engine.begin() as con:
                    con.execute(text(f"ALTER TABLE {prep.quote(decisions.name)} ADD COLUMN {ddl}"))
            except Exception:
                if name not in {c["name"] for c in inspect(self.engine).get_columns("decisions")}:
                    raise  # not a race with another process: a real failure

    @staticmethod
    def _sqlite_pragmas(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # the commit reaches the disk before we answer
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    # ---------------------------------------------------------------- writes

    def record(self, row: dict) -> Recorded:
        """Insert one decision and commit; a replay of the same id returns the stored row.

        Concurrent calls are committed together (group commit): one writer thread inserts
        whatever is waiting in one transaction, and every caller returns only after that
        commit. Durability per record, at the cost of one disk flush per batch, not per call.
        """
        row = {k: row.get(k) for k in COLUMNS}
        if row["recorded_at"] is None:
            row["recorded_at"] = datetime.now(timezone.utc)
        if isinstance(row["flags"], dict):
            row["flags"] = json.dumps(row["flags"], sort_keys=True)
        if row["practice"] is None:
            row["practice"] = False
        job = _Job(row)
        with self._cv:
            if self._closed:
                raise StoreError("the decision log is closed")
            self._queue.append(job)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="decision-writer", daemon=True)
                self._writer.start()
            self._cv.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _write_loop(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                self._write_batch(batch)
            except BaseException as exc:  # never leave a caller waiting
                for j in batch:
                    if not j.done.is_set():
                        j.error = exc if isinstance(exc, Exception) else RuntimeError(str(exc))
                        j.done.set()

    def _write_batch(self, batch: list["_Job"]) -> None:
        if len({j.row["id"] for j in batch}) == len(batch):
            try:
                with self.engine.begin() as con:
                    con.execute(insert(decisions), [j.row for j in batch])
            except IntegrityError:
                pass  # an id already stored: settle each row on its own below
            else:
                for j in batch:
                    j.result = Recorded(j.row, True)
                    j.done.set()
                return
        for j in batch:
            try:
                j.result = self._insert_one(j.row)
            except Exception as exc:
                j.error = exc
            j.done.set()

    def _insert_one(self, row: dict) -> Recorded:
        try:
            with self.engine.begin() as con:
                con.execute(insert(decisions), row)
            return Recorded(row, True)
        except IntegrityError:
            old = self.get(row["id"])
            if old is None:
                raise
            same = all(_same(old[k], row[k]) for k in COLUMNS if k not in ("recorded_at",))
            if not same:
                raise ConflictError(f"decision {row['id']} was already recorded with different content") from None
            return Recorded(old, False)

    # ---------------------------------------------------------------- reads

    def get(self, decision_id: str) -> dict | None:
        with self.engine.connect() as con:
            r = con.execute(select(decisions).where(decisions.c.id == decision_id)).mappings().first()
        return dict(r) if r else None

    def count(self) -> int:
        with self.engine.connect() as con:
            return int(con.execute(select(func.count()).select_from(decisions)).scalar_one())

    def ids(self) -> set[str]:
        with self.engine.connect() as con:
            return {r[0] for r in con.execute(select(decisions.c.id))}

    def has_column(self, name: str) -> bool:
        """Whether the log's table has this column (a log opened read-only may predate it)."""
        with self.engine.connect() as con:
            return name in {c["name"] for c in inspect(con).get_columns("decisions")}

    def ping(self) -> bool:
        try:
            with self.engine.connect() as con:
                con.execute(select(1))
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Finish the writes already accepted, then release the connections."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
            w = self._writer
        if w is not None:
            w.join(timeout=30)
        self.engine.dispose()


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite opens it: SQLite gives its -wal and -shm
    files the database file's mode."""
    try:
        create_private_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create the directory for {path}: {exc.strerror}") from None


def _one_line(exc: BaseException) -> str:
    """The driver's own message, first line only (SQLAlchemy appends SQL and a help link)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__


def _same(a, b) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        if a.tzinfo is None:
            a = a.replace(tzinfo=timezone.utc)
        if b.tzinfo is None:
            b = b.replace(tzinfo=timezone.utc)
        return a == b
    return a == b


_SAFE_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def valid_call_taker(s: str) -> bool:
    return bool(_SAFE_ID.match(s))


def open_existing_log(url) -> "DecisionStore":
    """The decision log at ``url``, opened read-only for a report: a missing SQLite file or a
    database without the log is a StoreError here, never silently created. Every failure,
    the driver's included, is one line without the password."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.engine import make_url

    try:
        norm = normalize_url(url)
    except StoreError as exc:
        raise StoreError(f"--decisions: {exc}") from None
    u = make_url(norm)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") \
            and not Path(u.database).is_file():
        raise StoreError(f"decision log {u.database} does not exist (record decisions with "
                         "`rightresponse serve --db ...` first)")
    try:
        store = DecisionStore(norm, create=False)
    except StoreError:
        raise
    except Exception as exc:  # driver or connection errors
        raise StoreError(f"cannot open decision log {redact(norm)}: {type(exc).__name__}: {exc}") from None
    try:
        has_log = sa_inspect(store.engine).has_table("decisions")
    except Exception as exc:
        store.close()
        raise StoreError(f"cannot open decision log {redact(norm)}: {type(exc).__name__}: {exc}") from None
    if not has_log:
        store.close()
        raise StoreError(f"{redact(norm)} holds no decision log (no 'decisions' table)")
    return store
