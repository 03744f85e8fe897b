"""Worker for ``ingest(..., jobs=N)``: stages files in a separate Python process.

Run as ``python -m rightresponse.ingest.stage``. Each line on stdin names a request and a
result file (tab-separated): the request holds pickled arguments for one file, and the
worker pickles the FileSummary, or the exception, to the result file, then prints one line.
A plain subprocess, rather than multiprocessing, so a user's script is never re-imported in
the worker (no ``if __name__ == "__main__"`` guard needed) and no threads are forked; one
worker takes many files, so start-up is paid once per worker, not per file.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the process that started it dies
    (a killed ingest leaves no worker behind, writing into a staging folder nobody reads)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> int:
    # The replies go to a private copy of stdout; fd 1 itself now points at stderr, so nothing
    # else written there (DuckDB's progress bar, a library's print) can corrupt the protocol.
    reply = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    # Ctrl-C in a terminal reaches the whole process group: the parent stops the workers
    # itself (and discards their staged files), so they do not print tracebacks of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from .pipeline import _stage_file

    for line in sys.stdin:
        request, result = line.rstrip("\n").split("\t")
        with open(request, "rb") as fh:
            args = pickle.load(fh)
        try:
            out = _stage_file(**args)
        except Exception as exc:  # the parent raises it after committing the files before this one
            out = exc
        with open(result, "wb") as fh:
            pickle.dump(out, fh)
        print("done", file=reply, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
