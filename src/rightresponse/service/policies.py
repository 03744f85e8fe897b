"""Live policies for the service: loaded at start, swapped atomically when their file changes.

A reload parses the new file completely (every validation error collected) before the new
policy replaces the old one in a single reference assignment, so a request sees either the
old policy or the new one, never a mix, and a bad edit leaves the old policy live. The last
few versions stay addressable by hash, so a decision can be checked against the exact policy
that produced the recommendation the call-taker saw, even across a reload.

Call-type categories are not the policy's: each policy's taxonomy, with the service's model
and overrides, has one ``taxonomy.provider.CategoryProvider`` (bounded, shared by every
policy and version),
so a reload keeps the warm answers, and free text typed by the public cannot grow memory
without limit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from ..policy import Policy, PolicyError, flag_info
from ..policy.definition import parse_policy, resolve_policy_path
from ..policy.findings import Finding
from ..taxonomy.provider import CategoryProvider
from ..yaml_data import load_yaml

log = logging.getLogger("rightresponse.service")

KEEP_VERSIONS = 8
# After this many distinct call-type strings, the policy object is rebuilt from the same
# document: the policy's own per-object text memo then starts empty again.
MAX_DISTINCT_TEXTS = 50_000


def read_policy(path: str | os.PathLike) -> tuple[Policy, bytes]:
    """Parse a policy file from one read of its bytes; PolicyError lists every error."""
    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError([Finding("error", path, None, f"cannot read: {exc.strerror}")]) from None
    return parse_bytes(raw, path), raw


def parse_bytes(raw: bytes, path: str) -> Policy:
    try:
        doc = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PolicyError([Finding("error", path, None, f"not UTF-8 text: {exc.reason}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Finding("error", path, None, f"not valid YAML: {_yaml_error(exc)}")]) from None
    findings: list[Finding] = []
    policy = parse_policy(doc, path, findings)
    errors = [f for f in findings if f.level == "error"]
    if errors or policy is None:
        raise PolicyError(errors or [Finding("error", path, None, "not a policy")])
    return policy


def _yaml_error(exc: yaml.YAMLError) -> str:
    """PyYAML's message on one line: where, then what (its own text quotes the source over several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or not problem:
        return " ".join(str(exc).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


@dataclass
class Version:
    policy: Policy
    loaded_at: datetime


class PolicySlot:
    """One named policy and its file: the live version plus recent ones, and reload state."""

    def __init__(self, source: str):
        self.source = str(source)
        self.path = str(resolve_policy_path(source).resolve())
        policy, raw = read_policy(self.path)
        self._raw = raw
        self._sig = self._signature()
        self.current = Version(policy, datetime.now(timezone.utc))
        self.versions: OrderedDict[str, Version] = OrderedDict({policy.hash: self.current})
        self.reload_error: str | None = None
        self.reloads = 0
        self._texts: set = set()
        self._lock = threading.Lock()
        self.questions = _question_flags(policy)

    @property
    def policy(self) -> Policy:
        return self.current.policy

    @property
    def id(self) -> str:
        return self.current.policy.id

    def _signature(self):
        try:
            st = os.stat(self.path)
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return None

    def version(self, policy_hash: str | None) -> Policy | None:
        """The live policy, or a recent version by (a prefix of at least 12 characters of) its hash."""
        if not policy_hash:
            return self.current.policy
        v = self.versions.get(policy_hash)
        if v is None and len(policy_hash) >= 12:
            for h, ver in reversed(self.versions.items()):
                if h.startswith(policy_hash):
                    v = ver
                    break
        return v.policy if v else None

    def check(self, force: bool = False) -> bool | None:
        """Reload if the file changed. True = new version live; False = bad file (old stays); None = unchanged."""
        with self._lock:
            sig = self._signature()
            if not force and sig == self._sig:
                return None
            self._sig = sig
            try:
                policy, raw = read_policy(self.path)
            except PolicyError as exc:
                self.reload_error = str(exc)
                log.warning("policy %s: reload rejected, version %s stays live: %d error(s)",
                            self.source, self.current.policy.hash[:12], len(exc.findings))
                return False
            self.reload_error = None
            if raw == self._raw or policy.hash == self.current.policy.hash:
                self._raw = raw
                return None  # touched or reformatted: nothing that changes a recommendation
            self._install(policy, raw)
            self.reloads += 1
            log.info("policy %s: version %s live", self.source, policy.hash[:12])
            return True

    def _install(self, policy: Policy, raw: bytes) -> None:
        ver = Version(policy, datetime.now(timezone.utc))
        self.versions[policy.hash] = ver
        self.versions.move_to_end(policy.hash)
        while len(self.versions) > KEEP_VERSIONS:
            self.versions.popitem(last=False)
        self.questions = _question_flags(policy)
        self._raw = raw
        self._texts = set()
        self.current = ver  # the atomic switch

    def note_text(self, call_type: str) -> None:
        """Count distinct call-type strings seen by the live policy object; rebuild it past the bound."""
        if call_type in self._texts:
            return
        self._texts.add(call_type)
        if len(self._texts) > MAX_DISTINCT_TEXTS:
            with self._lock:
                if len(self._texts) > MAX_DISTINCT_TEXTS:
                    fresh = parse_bytes(self._raw, self.path)
                    ver = Version(fresh, self.current.loaded_at)
                    self.versions[fresh.hash] = ver
                    self._texts = set()
                    self.current = ver

    def info(self, default: bool) -> dict:
        p = self.current.policy
        return {"id": p.id, "title": p.title, "version": p.version, "hash": p.hash, "rules": len(p.rules),
                "file": Path(self.path).name, "default": default,
                "loaded_at": self.current.loaded_at.isoformat(timespec="seconds"),
                "reloads": self.reloads, "reload_error": self.reload_error}


def explain(rec, question_flags: dict) -> dict:
    """A recommendation as the console shows it (POST /v1/triage), each question with its flag
    (``question_flags``: a slot's ``questions``). One function: the practice page explains alike."""
    d = rec.explain()
    d["ask"] = [{"flag": question_flags.get(t), "text": t} for t in rec.questions]
    return d


def _question_flags(policy: Policy) -> dict[str, str]:
    """Question text -> the flag it establishes (the recommendation carries texts only)."""
    out = {fi.question: name for name, fi in flag_info().items()}
    for r in policy.rules:
        for q in r.questions:
            if q.flag:
                out[q.text] = q.flag
    return out


class PolicySet:
    """The policies a service serves; the first is the default."""

    def __init__(self, sources, agency=None, model_path=None, overrides=None, classifier=None):
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        self.slots: list[PolicySlot] = []
        errors = []
        for s in sources:
            try:
                self.slots.append(PolicySlot(s))
            except PolicyError as exc:
                errors += exc.findings
        if errors:
            raise PolicyError(errors)
        if not self.slots:
            raise PolicyError([Finding("error", "-", None, "no policy given")])
        ids = [s.id for s in self.slots]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise PolicyError([Finding("error", s.path, None, f"policy id {s.id!r} is served twice") for s in self.slots
                               if s.id in dup])
        self._cat_args = dict(agency=agency, model_path=model_path, overrides=overrides, classifier=classifier)
        self._categorizers: dict = {}
        self._cat_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def default(self) -> PolicySlot:
        return self.slots[0]

    def get(self, name: str | None) -> PolicySlot | None:
        if not name:
            return self.default
        for s in self.slots:
            if s.id == name or s.source == name:
                return s
        return None

    def categorizer(self, policy: Policy) -> CategoryProvider:
        """The category provider for this policy's taxonomy with the service's configuration: the
        service's own (its memory bound is the service's), built on first use."""
        c = self._categorizers.get(policy.taxonomy)
        if c is None:
            with self._cat_lock:
                c = self._categorizers.get(policy.taxonomy)
                if c is None:
                    c = self._categorizers[policy.taxonomy] = CategoryProvider(policy.taxonomy, **self._cat_args)
        return c

    def check_all(self, force: bool = False) -> list[tuple[PolicySlot, bool | None]]:
        return [(s, s.check(force)) for s in self.slots]

    # -- the watcher

    def watch(self, interval: float) -> None:
        if interval <= 0 or self._thread is not None:
            return
        self._stop.clear()

        def loop():
            while not self._stop.wait(interval):
                for s in self.slots:
                    try:
                        s.check()
                    except Exception:  # never let the watcher die; the old policy stays live
                        log.exception("policy %s: reload failed", s.source)

        self._thread = threading.Thread(target=loop, name="policy-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(timeout=5)

