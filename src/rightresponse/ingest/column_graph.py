"""The ingest compiler's column graph: each derived column a node whose inputs are nodes.

The compiler (``normalize.py``) builds one node per derived column from an adapter; the
passes that plan the query (which parsed timestamps are computed once in an inner
projection and in which layer, which value maps are joined where, which source columns are
cleaned only over their distinct values, which columns are constant) walk the graph, and
SQL is rendered from it once per place it is used. Nothing is found in, or substituted into,
SQL text: a node that an inner projection already computed is rendered as that column
because it *is* that node (``render``'s ``at``), not because its text matched.

Node kinds, by what they read:

* :class:`Raw` a source column as read; :class:`Col` the same column cleaned (trimmed, null
  tokens as NULL), which the pass computes once as a column of its own;
* :class:`Sql` generated SQL over its input nodes (the text parts are written by the
  compiler, values in them quoted by ``sqltext``);
* :class:`AdapterSql` an adapter's ``sql:`` expression, rendered from DuckDB's parse tree
  with its ``{Column}`` references replaced by their nodes (``adapter.compile_expression``);
* :class:`Clean` the cleaning of another node, inline;
* :class:`Instant` the instant of a wall-clock time; rendered as the day-offset lookup when
  its input is a column of an inner projection (the lookup names its input a few hundred
  times), as ICU's ``timezone()`` otherwise;
* :class:`Mapped` a Python function of a key node, computed over the key's distinct values
  and joined (a value map).

Nodes are immutable and compare by structure (``Mapped`` by identity: its function is
code), so the same expression built twice is one node and is computed once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from ..sqltext import ident, literal
from .adapter import compile_expression


class Node:
    """A column of the graph. ``inputs()`` are the nodes it is computed from."""

    def inputs(self) -> tuple["Node", ...]:
        return ()


@dataclass(frozen=True)
class Raw(Node):
    column: str  # the source's own name for it


@dataclass(frozen=True)
class Col(Node):
    column: str


@dataclass(frozen=True)
class Clean(Node):
    arg: Node

    def inputs(self):
        return (self.arg,)


@dataclass(frozen=True)
class Sql(Node):
    parts: tuple  # str (generated SQL) or Node

    def inputs(self):
        return tuple(p for p in self.parts if isinstance(p, Node))


def sql(*parts: str | Node) -> Sql:
    """A node of generated SQL text and input nodes, in order (adjacent text merged)."""
    merged: list = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif p != "":
            merged.append(p)
    return Sql(tuple(merged))


def join(sep: str, nodes) -> list:
    """``nodes`` with ``sep`` text between them, to splice into :func:`sql`."""
    out: list = []
    for i, n in enumerate(nodes):
        out += [sep, n] if i else [n]
    return out


NULL_TEXT = sql("CAST(NULL AS VARCHAR)")


@dataclass(frozen=True)
class AdapterSql(Node):
    text: str
    columns: tuple[tuple[str, Node], ...]  # {Name} -> its node
    where: str
    path: str

    def inputs(self):
        return tuple(n for _, n in self.columns)


@dataclass(frozen=True)
class Instant(Node):
    local: Node

    def inputs(self):
        return (self.local,)


@dataclass(frozen=True, eq=False)
class Mapped(Node):
    """``fn(key)`` joined from a table of the key's distinct values (``name``: that table)."""

    name: str
    key: Node
    fn: Callable[[Any], Any] = field(repr=False)
    sql_type: str

    def inputs(self):
        return (self.key,)


# ---------------------------------------------------------------- passes over the graph


def walk(node: Node, stop: Callable[[Node], bool] = lambda n: False, into_maps: bool = False) -> Iterator[Node]:
    """``node`` and the nodes it is computed from, depth first, in order, repeats included.
    A node for which ``stop`` is true is yielded but not entered; a value map's key is
    entered only with ``into_maps`` (a map is joined by its key, so the query that reads
    the map's column does not compute its key)."""
    yield node
    if stop(node) or (isinstance(node, Mapped) and not into_maps):
        return
    for child in node.inputs():
        yield from walk(child, stop, into_maps)


def maps_in(node: Node) -> set[Mapped]:
    return {n for n in walk(node) if isinstance(n, Mapped)}


@dataclass(frozen=True, eq=False)
class PassColumn(Node):
    """A column the pass computes under ``alias`` from ``definition`` (the failing check's
    index): the columns derived from it read the stored column."""

    alias: str
    definition: Node

    def inputs(self):
        return (self.definition,)


def is_constant(node: Node) -> bool:
    """True when ``node`` reads nothing of the row: no source column, map or pass column."""
    return not any(isinstance(n, (Raw, Col, Mapped, PassColumn)) for n in walk(node))


def plan_layers(shared: Mapping[Node, str]) -> list[list[Node]]:
    """The inner projections that compute the ``shared`` nodes: a node goes one layer
    further out than the deepest shared node it is computed from, so it reads that one's
    column instead of computing it again."""
    depth: dict[Node, int] = {}

    def depth_of(node: Node) -> int:
        if node not in depth:
            inner = [depth_of(n) for n in walk(node, lambda n: n is not node and n in shared)
                     if n is not node and n in shared]
            depth[node] = 1 + max(inner) if inner else 0
        return depth[node]

    layers: list[list[Node]] = []
    for node in shared:
        d = depth_of(node)
        layers.extend([] for _ in range(d + 1 - len(layers)))
        layers[d].append(node)
    return layers


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Scope:
    """Where a node is rendered: ``at`` maps nodes already computed by the query being read
    (its relation is ``s``) to the SQL that reads them (``s.__t00``, ``norm_m01.v``)."""

    tz: str
    at: Mapping[Node, str]
    clean: Callable[[str], str]  # SQL that cleans the given SQL (Clean nodes)
    instant: Callable[[str], str]  # the day-offset lookup over a computed column

    def with_(self, more: Mapping[Node, str]) -> "Scope":
        return Scope(self.tz, {**self.at, **more}, self.clean, self.instant)


def render(node: Node, scope: Scope, top: bool = True) -> str:
    """The SQL for ``node`` in ``scope``. With ``top`` false, ``node`` itself is rendered from
    its definition even when the scope holds it (to write the column that computes it)."""
    if top and node in scope.at:
        return scope.at[node]
    if isinstance(node, Sql):
        return "".join(p if isinstance(p, str) else render(p, scope) for p in node.parts)
    if isinstance(node, Raw):
        return "s." + ident(node.column)
    if isinstance(node, Clean):
        return scope.clean(render(node.arg, scope))
    if isinstance(node, Instant):
        if node.local in scope.at:
            return scope.instant(scope.at[node.local])
        return f"timezone({literal(scope.tz)}, {render(node.local, scope)})"
    if isinstance(node, AdapterSql):
        cols = dict(node.columns)
        return compile_expression(node.text, lambda name: render(cols[name], scope), node.where, node.path)
    if isinstance(node, PassColumn):
        return render(node.definition, scope)
    raise KeyError(f"{node!r} is not computed in this scope")  # a Col or Mapped the query does not hold
