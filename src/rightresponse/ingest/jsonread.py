"""JSON exports read one record at a time: Socrata (a list of records, rows.json, NDJSON) and
ArcGIS feature sets.

The standard decoder parses each record from a window of the text (``_JsonStream``), so a
file of any size is read in bounded memory; one value longer than the record limit is an
error naming its line (without parsing it there is no knowing where it ends). Records go to
DuckDB in batches through the readers' ``_RecordTable``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from .raw_records import (MAX_RECORD_CHARS, RECORD_HEAD, RawTable, ReadError, _BadRecords, _BoundedLines, _GZIP_ERRORS,
                      _gzip_error, _Oversized, _RecordTable, dedupe_names, open_bytes)




def _open_text(path: Path):
    fh = open_bytes(path)
    return io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")


class _JsonStream:
    """A JSON document read one value at a time, never whole: ``[`` the list, then each
    record, each parsed by the standard decoder from a window of the text.

    A value longer than MAX_RECORD_CHARS is an error: without parsing it there is no
    knowing where it ends.
    """

    def __init__(self, path: Path, text):
        self.path, self._text = path, text
        self._buf, self._pos = "", 0
        self._eof = False
        self._line, self._col = 1, 1  # position of _buf[0] in the document
        self._decoder = json.JSONDecoder()
        self.last_size = 0  # characters of the last value read

    def _fill(self, need: int = 1 << 20) -> bool:
        if self._eof:
            return False
        if self._pos:
            dropped = self._buf[: self._pos]
            nl = dropped.count("\n")
            self._line += nl
            self._col = (len(dropped) - dropped.rfind("\n")) if nl else self._col + len(dropped)
            self._buf, self._pos = self._buf[self._pos:], 0
        chunk = self._text.read(need)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _where(self, pos: int) -> tuple[int, int]:
        head = self._buf[:pos]
        nl = head.count("\n")
        return self._line + nl, (pos - head.rfind("\n")) if nl else self._col + pos

    def error(self, msg: str, pos: int | None = None) -> ReadError:
        line, col = self._where(self._pos if pos is None else pos)
        return ReadError(f"{self.path}: invalid JSON at line {line}, column {col} ({msg})")

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def take(self, ch: str) -> None:
        if self.peek() != ch:
            got = self.peek()
            raise self.error(f"Expecting '{ch}'" + ("" if got else " before the end of the file"))
        self._pos += 1

    def value(self):
        """The next JSON value, parsed."""
        self.peek()
        while True:
            try:
                v, end = self._decoder.raw_decode(self._buf, self._pos)
            except RecursionError:
                line, _ = self._where(self._pos)
                raise ReadError(f"{self.path}: a JSON value starting at line {line} is nested too deeply") from None
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos > MAX_RECORD_CHARS:
                    line, _ = self._where(self._pos)
                    raise ReadError(f"{self.path}: a JSON value starting at line {line} is longer than "
                                    f"{MAX_RECORD_CHARS:,} characters") from None
                if self._fill(max(1 << 20, len(self._buf) - self._pos)):
                    continue  # the value may just be cut by the window: read more and try again
                raise self.error(exc.msg, exc.pos) from None
            # a number at the end of the window may continue in the next chunk
            if end == len(self._buf) and not isinstance(v, (dict, list, str)) and self._fill():
                continue
            self.last_size = end - self._pos
            self._pos = end
            return v

    def _each(self, opening: str, closing: str):
        """Stop at each element of the list or object that opens next; the caller reads it."""
        self.take(opening)
        if self.peek() == closing:
            self._pos += 1
            return
        while True:
            yield
            nxt = self.peek()
            if nxt == ",":
                self._pos += 1
            elif nxt == closing:
                self._pos += 1
                return
            else:
                raise self.error("Expecting ',' delimiter" + ("" if nxt else " before the end of the file"))

    def items(self):
        """The values of a JSON list, one at a time (the '[' is next)."""
        for _ in self._each("[", "]"):
            yield self.value()

    def members(self):
        """The keys of a JSON object, one at a time (the '{' is next), the stream left at each
        key's value: the caller reads it (value() or items()) before asking for the next key."""
        for _ in self._each("{", "}"):
            key = self.value()
            if not isinstance(key, str):
                raise self.error("Expecting property name enclosed in double quotes")
            self.take(":")
            yield key

    def end(self) -> None:
        if self.peek():
            raise self.error("Extra data")


def _json_stream(path: Path, fn):
    """Run ``fn(stream)`` on the file, turning decoding errors into one-line ReadErrors."""
    try:
        with _open_text(path) as text:
            return fn(_JsonStream(path, text), text)
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: not UTF-8 JSON (byte {exc.start}: {exc.reason})") from None
    except _GZIP_ERRORS as exc:
        raise _gzip_error(path, exc) from None


def _is_ndjson(path: Path) -> bool:
    """NDJSON: the first non-blank line is a JSON object by itself, and another line follows.
    (Lines are read up to the record limit, never further: a document on one huge line is
    not read through here.)"""
    def check(stream, text):
        first = None
        while line := text.readline(MAX_RECORD_CHARS):
            if line.strip():
                first = line
                break
        if first is None:
            raise ReadError(f"{path}: the file is empty")
        if len(first) >= MAX_RECORD_CHARS:
            return False
        try:
            if not isinstance(json.loads(first), dict):
                return False
        except (json.JSONDecodeError, RecursionError):
            return False
        while line := text.readline(MAX_RECORD_CHARS):
            if line.strip():
                return True
        return False

    return _json_stream(path, check)


def _json_items(path: Path, stream: _JsonStream):
    """(what, items) of a JSON document: its records, one at a time, as dicts or other values."""
    first = stream.peek()
    if not first:
        raise ReadError(f"{path}: the file is empty")
    if first == "[":
        return "record", stream.items()
    if first != "{":
        raise ReadError(f"{path}: JSON is neither a list of records nor an ArcGIS/Socrata export")

    def from_object():
        meta = None
        found = False
        for key in stream.members():
            if key == "features" and stream.peek() == "[":  # ArcGIS / GeoJSON
                found = True
                for feat in stream.items():
                    yield "feature", _feature(feat)
            elif key == "data" and stream.peek() == "[":  # Socrata rows.json
                if meta is None:
                    raise ReadError(f"{path}: a Socrata rows.json needs 'meta' before 'data'")
                found = True
                try:
                    cols = [c.get("fieldName") or c.get("name") for c in meta["view"]["columns"]]
                except (KeyError, TypeError, AttributeError):
                    raise ReadError(f"{path}: Socrata rows.json without meta.view.columns") from None
                for r in stream.items():
                    yield "data row", dict(zip(cols, r)) if isinstance(r, list) and len(r) == len(cols) else r
            else:
                v = stream.value()
                if key == "meta":
                    meta = v
        stream.end()
        if not found:
            raise ReadError(f"{path}: JSON is neither a list of records nor an ArcGIS/Socrata export")

    return None, from_object()


def _feature(feat):
    if not isinstance(feat, dict):
        return feat
    rec = dict(feat.get("attributes") or feat.get("properties") or {})
    geom = feat.get("geometry") or {}
    if isinstance(geom, dict) and "x" in geom and "y" in geom:
        rec.setdefault("x", geom["x"])
        rec.setdefault("y", geom["y"])
    return rec


def read_json(con, path: Path) -> RawTable:
    """Socrata (a list of records, rows.json, or NDJSON) and ArcGIS feature exports, streamed.

    In NDJSON every line stands alone, so a broken line (a truncated download, a stray
    edit) is quarantined as a malformed record and the other lines still load. A single
    JSON document that does not parse cannot be split into records: that is an error.
    """
    if _is_ndjson(path):
        return _read_ndjson(con, path)

    def load(stream, text):
        out, bad = _RecordTable(con, "json"), _BadRecords(con, "json")
        what, items = _json_items(path, stream)
        n = 0
        for item in items:
            if what is None:
                kind, item = item
            else:
                kind = what
            n += 1
            if isinstance(item, dict):
                out.add(n, item, stream.last_size)
            else:
                bad.add(n, f"{kind} {n} is not a JSON object", json.dumps(item))
        if what is not None:
            stream.end()
        return out.table(n, bad)

    return _json_stream(path, load)


def _read_ndjson(con, path: Path) -> RawTable:
    def load(stream, text):
        out, bad = _RecordTable(con, "json"), _BadRecords(con, "json")
        lines = _BoundedLines(text)
        n = 0
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except _Oversized as big:
                n += 1
                bad.add(n, big.describe(), big.head)
                continue
            if not line.strip():
                continue
            n += 1
            line = line.rstrip("\r\n")
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                bad.add(n, f"invalid JSON ({err.msg}, column {err.colno})", line)
                continue
            except RecursionError:
                bad.add(n, "invalid JSON (nested too deeply)", line[:RECORD_HEAD])
                continue
            if isinstance(item, dict):
                out.add(n, item, len(line))
            else:
                bad.add(n, f"line {n} is not a JSON object", json.dumps(item))
        return out.table(n, bad)

    return _json_stream(path, load)


def json_columns(path: Path) -> list[str]:
    """Every key of a JSON export's records, in order of appearance (a pass without a table)."""
    keys: dict[str, None] = {}

    def add(item):
        if isinstance(item, dict):
            keys.update(dict.fromkeys(item))

    if _is_ndjson(path):
        def scan(stream, text):
            for line in _BoundedLines(text):
                if line.strip():
                    try:
                        add(json.loads(line))
                    except (json.JSONDecodeError, RecursionError):
                        pass
        try:
            _json_stream(path, scan)
        except _Oversized:
            pass
    else:
        def scan_doc(stream, text):
            what, items = _json_items(path, stream)
            for item in items:
                add(item if what is not None else item[1])
        _json_stream(path, scan_doc)
    return dedupe_names(list(keys))
