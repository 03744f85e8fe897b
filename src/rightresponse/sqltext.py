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

Generated SQL is also rewritten in a few places (the ingest compiler substitutes column
aliases). :func:`code_spans` splits SQL into code and quoted text, so a rewrite never
touches the inside of a quoted name or string.
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

    Only for SQL this package generated, whose quoted parts all come from :func:`ident` and
    :func:`literal` (so every quote is closed)."""
    pos = 0
    for m in _QUOTED.finditer(sql):
        if m.start() > pos:
            yield True, sql[pos:m.start()]
        yield False, m.group(0)
        pos = m.end()
    if pos < len(sql):
        yield True, sql[pos:]


def sub_code(pattern: re.Pattern, repl, sql: str) -> str:
    """``pattern.sub(repl, sql)`` applied to the code only, never inside quotes."""
    return "".join(pattern.sub(repl, text) if code else text for code, text in code_spans(sql))


def findall_code(pattern: re.Pattern, sql: str) -> list:
    """``pattern.findall`` over the code of ``sql`` only."""
    return [m for code, text in code_spans(sql) if code for m in pattern.findall(text)]


def replace_code(sql: str, old: str, new: str) -> str:
    """``sql.replace(old, new)`` where ``old`` occurs as code: not inside quotes it does not
    itself open. ``old`` is generated SQL and may hold quoted parts of its own."""
    if old not in sql:
        return sql
    out, i = [], 0
    quoted = _quoted_mask(sql)
    while (j := sql.find(old, i)) >= 0:
        if quoted[j]:  # inside a string or a name: not this expression
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        out.append(sql[i:j])
        out.append(new)
        i = j + len(old)
    out.append(sql[i:])
    return "".join(out)


def find_code(sql: str, token: str, start: int = 0) -> int:
    """Index of the first ``token`` at or after ``start`` that is code, not quoted text; -1 if none."""
    while (j := sql.find(token, start)) >= 0:
        if not _inside_quotes(sql, j):
            return j
        start = j + 1
    return -1


def _inside_quotes(sql: str, pos: int) -> bool:
    for m in _QUOTED.finditer(sql):
        if m.start() >= pos:
            return False
        if pos < m.end():
            return True
    return False


def _quoted_mask(sql: str) -> list[bool]:
    """For every character: is it inside a quoted string or name (its opening quote excluded)?"""
    mask = [False] * (len(sql) + 1)
    for m in _QUOTED.finditer(sql):
        for k in range(m.start() + 1, m.end()):
            mask[k] = True
    return mask


def matching_paren(sql: str, open_at: int) -> int:
    """Index of the parenthesis that closes the one at ``open_at``, skipping quoted text."""
    depth = 0
    i = open_at
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            m = _QUOTED.match(sql, i)
            i = m.end() if m else n
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced parentheses in generated SQL")
