"""An independent count of a delimited file's records, to check the scanner's.

DuckDB's strict CSV scan is fast and usually exact, but it can stop early without raising:
a record longer than its maximum line size at the end of a file is dropped silently. So
every file ingested through it is counted a second time, here, by different code, and a
disagreement sends the file to the exact Python reader instead.

The count is a lenient line scan that respects quotes: a record ends at a line break (LF,
CRLF or a lone CR) outside double quotes, and blank lines are not records (as both readers
skip them). Every quote toggles the quoted state, as RFC 4180 implies for well-quoted
files; a file with a stray quote inside an unquoted value is counted differently, and
takes the Python reader, which is exact for it.

It runs in the ingest's background thread, over the same chunks that are hashed, so the
file is read once for both. numpy finds the quotes and line breaks of each 4 MiB chunk, in
place into buffers it keeps, and works on those few positions only: about 0.2 s of CPU per
500 MB, mostly off the GIL. A new array for each comparison cost 0.8 s (the temporaries were
faulted in afresh each time); a Python loop over lines, more.
"""

from __future__ import annotations

import numpy as np

_QUOTE, _LF, _CR = 34, 10, 13


_SLICE = 1 << 22  # scanned at a time, into buffers kept from slice to slice (see _scan)


class RecordCounter:
    """Feed the bytes of a file in order, then ``finish()`` gives its number of data records
    (the header, the first record, excluded)."""

    def __init__(self) -> None:
        self._offset = 0  # file offset of the next byte to scan
        self._quoted = False  # inside quotes at that offset
        self._line_start = 0  # file offset where the current line began
        self._lines = 0  # non-blank lines ended so far (the header included)
        self._held = b""  # a CR ending the last chunk: CRLF or a lone CR, decided by the next byte
        self._mask = np.empty(_SLICE + 1, dtype=bool)  # reused: see _scan
        self._tmp = np.empty(_SLICE + 1, dtype=bool)

    def feed(self, chunk: bytes) -> None:
        if self._held:
            chunk = self._held + chunk
            self._held = b""
        if chunk.endswith(b"\r"):
            chunk, self._held = chunk[:-1], b"\r"
        a = np.frombuffer(chunk, dtype=np.uint8)
        has_cr = b"\r" in chunk
        start = 0
        while start < len(a):
            end = min(start + _SLICE, len(a))
            if end < len(a) and a[end - 1] == _CR:  # never split a CRLF between two slices
                end += 1
            self._scan(a[start:end], has_cr)
            start = end

    def finish(self) -> int:
        """The number of data records (call once, after the last chunk)."""
        if self._held:
            self._scan(np.frombuffer(self._held, dtype=np.uint8), True)
            self._held = b""
        lines = self._lines + (1 if self._offset > self._line_start else 0)
        return max(lines - 1, 0)

    def _scan(self, a: np.ndarray, has_cr: bool) -> None:
        base = self._offset
        # Only quotes and line-break bytes matter: find them, then work on those few. In place,
        # into buffers kept from slice to slice: with a new temporary for each comparison the
        # scan took three times as long. CRs are looked for only in chunks that hold one.
        mask, tmp = self._mask[: len(a)], self._tmp[: len(a)]
        np.equal(a, _QUOTE, out=mask)
        np.equal(a, _LF, out=tmp)
        np.logical_or(mask, tmp, out=mask)
        if has_cr:
            np.equal(a, _CR, out=tmp)
            np.logical_or(mask, tmp, out=mask)
        pos = np.flatnonzero(mask)
        val = a[pos]
        is_quote = val == _QUOTE
        # quotes before each position since the file began: odd means inside quotes
        inside = (np.cumsum(is_quote) - is_quote + self._quoted) & 1
        followed_by_lf = np.zeros(len(pos), dtype=bool)
        followed_by_lf[:-1] = (pos[1:] == pos[:-1] + 1) & (val[1:] == _LF)
        crlf_cr = (val == _CR) & followed_by_lf  # the CR of a CRLF: its LF ends the line
        is_break = ((val == _LF) | ((val == _CR) & ~crlf_cr)) & (inside == 0)
        breaks = pos[is_break]
        if len(breaks):
            after_cr = np.zeros(len(pos), dtype=bool)  # an LF whose CR came just before
            after_cr[1:] = crlf_cr[:-1]
            ends = breaks - after_cr[is_break]  # where each line's content ends
            starts = np.empty(len(breaks), dtype=np.int64)
            starts[0] = self._line_start - base
            starts[1:] = breaks[:-1] + 1
            self._lines += int(np.count_nonzero(ends > starts))
            self._line_start = base + int(breaks[-1]) + 1
        self._quoted = bool((self._quoted + int(np.count_nonzero(is_quote))) & 1)
        self._offset = base + len(a)
