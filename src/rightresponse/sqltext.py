"""The only way text from a file or a config enters generated SQL: quoted, never pasted.

Column names come from the header of a city's export and from adapter files; values come
from adapters (null tokens, formats, separators) and from data (ENUM members). Each is
rendered by one of two functions, so no other code builds a quoted name or string by hand:

* :func:`ident` for identifiers: ``"name"`` with every ``"`` doubled;
* :func:`literal` for string constants: ``'text'`` with every ``'`` doubled.

DuckDB's standard strings have no backslash escapes, ``$$`` has no meaning inside a quoted
string, and NUL bytes pass through (the parser is length-aware), so doubling the quote is
the whole job. Where a value can be bound as a parameter (``con.execute(sql, [value])``),
that is better still.

Generated SQL is never rewritten as text (the ingest compiler renders it from a graph of
columns, ``ingest/column_graph.py``). :func:`code_spans` splits an adapter's ``sql:``
expression into code and quoted text, so its ``{Column}`` references are found in the code
only, never inside a quoted name or string.
"""

from __future__ import annotations

import re


def ident(name: str) -> str:
    """A SQL identifier for ``name``, whatever characters it holds."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string constant holding ``value`` exactly."""
    return "'" + str(value).replace("'", "''") + "'"


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


def code_spans(sql: str):
    """(is_code, text) pieces of ``sql``, in order: quoted strings and names are not code.
    An unclosed quote leaves the rest as code; DuckDB's parser then refuses the text."""
    pos = 0
    for m in _QUOTED.finditer(sql):
        if m.start() > pos:
            yield True, sql[pos:m.start()]
        yield False, m.group(0)
        pos = m.end()
    if pos < len(sql):
        yield True, sql[pos:]
