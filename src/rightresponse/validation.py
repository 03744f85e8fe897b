"""One validation layer for the files a city writes: adapters, policies, scenarios.

Each format is a pydantic model (``ingest/adapter.py`` ``AdapterFile``, ``policy/file_format.py``
``PolicyFile``, ``simulate/scenario.py`` ``ScenarioFile``), so the checks are declared once and
the same model gives the JSON Schema an editor uses to complete and check the YAML
(``rightresponse schema adapter|policy|scenario``). ``check`` runs a model over a YAML
document and turns pydantic's errors into ``errors.Problem``s, every problem of the file at
once, in one style: ``file: rules[3].responder: unknown value 'crisis_tem' (did you mean
'crisis_team'?); one of: police, ...``.

Checks that need more than the value in hand (a lookup file beside the adapter, the taxonomy
a policy names) read ``info.context`` (``file`` and whatever the loader adds); checks across
parts of a document that pydantic cannot see (a pool named by another pool) are functions
of the loader that return more ``Problem``s.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from .errors import Problem, did_you_mean, yaml_path


class Spec(BaseModel):
    """Base of the file models: an unknown key is an error (with a suggestion), a number
    where text is expected is text (``version: 2``, a numeric call-type code)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)


def bad(message: str, at: tuple = ()) -> PydanticCustomError:
    """The error a validator raises: ``message`` as written (no pydantic prefix); ``at``, a
    path below the value being validated."""
    return PydanticCustomError("rightresponse", "{message}", {"message": message, "at": at})


def note(info, path: tuple, message: str) -> None:
    """Record a problem at ``path`` (from the document's root) without stopping validation: for
    checks across parts of a document (a duplicate id) made while the parts are validated."""
    info.context["noted"].append((tuple(path), message))


def check(model: type[BaseModel], doc: Any, file: str, context: dict | None = None) -> list[Problem]:
    """Every problem of ``doc`` against ``model``, in document order."""
    ctx = {"file": file, **(context or {}), "noted": []}
    found: list[Problem] = []
    try:
        model.model_validate(doc, context=ctx)
    except ValidationError as exc:
        found = problems(exc, model, doc, file)
    found += [Problem(file, yaml_path(p), m) for p, m in ctx["noted"]]
    return in_document_order(doc, found)


def in_document_order(doc: Any, found: list[Problem]) -> list[Problem]:
    """Problems in the order their keys are written (a missing key after its siblings)."""
    return sorted(found, key=lambda p: _order(doc, _parse_path(p.path)))


def _parse_path(path: str) -> tuple:
    out: list = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("[") and part.endswith("]") and part[1:-1].isdigit():
            out.append(int(part[1:-1]))
        elif part:
            out.append(part)
    return tuple(out)


# ---------------------------------------------------------------------------- pydantic -> Problem

_KIND = {"string_type": "text", "str_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
         "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
         "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list", "tuple_type": "a list",
         "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
         "literal_error": None, "none_required": "nothing"}


def problems(exc: ValidationError, model: type[BaseModel], doc: Any, file: str) -> list[Problem]:
    by_path: dict[tuple, list[tuple[bool, str]]] = {}
    for e in exc.errors(include_url=False):
        path, tagged = _real_path(e, doc)
        wholesale = tagged and e["type"] in _KIND
        by_path.setdefault(path, []).append((wholesale, _message(e, path, model, doc)))
    out = []
    for path, msgs in sorted(by_path.items(), key=lambda kv: _order(doc, kv[0])):
        deeper = any(p[:len(path)] == path and len(p) > len(path) for p in by_path)
        specific = [m for w, m in msgs if not w]
        if specific:
            out += [Problem(file, yaml_path(path), m) for m in dict.fromkeys(specific)]
        elif not deeper:  # every form of a union rejected the value's type
            kinds = [m.split(", got ")[0].removeprefix("expected ") for _, m in msgs]
            value = _at(doc, path)
            out.append(Problem(file, yaml_path(path), f"expected {' or '.join(dict.fromkeys(kinds))}, got {value!r}"))
    return out


def _order(doc, path) -> tuple:
    """Where a path is in the document (keys in the order written; a missing key last)."""
    out, cur = [], doc
    for part in path:
        if isinstance(cur, dict):
            keys = list(cur)
            out.append(keys.index(part) if part in cur else len(keys))
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int):
            out.append(part)
            cur = cur[part] if part < len(cur) else None
        else:
            out.append(0)
    return tuple(out)


def _real_path(e: dict, doc: Any) -> tuple[tuple, bool]:
    """The error's location in the document, without pydantic's union-member tags; and
    whether it ends at one (that member of a union refused the value's type as a whole)."""
    loc = list(e["loc"])
    path, cur, tag_last = [], doc, False
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
            path.append(part)
            tag_last = False
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
            path.append(part)
            tag_last = False
        elif e["type"] in ("missing", "rightresponse") and i == len(loc) - 1:  # a key not given
            path.append(part)
        elif part == "[key]":  # a mapping's key was refused: the key is the path's last part
            e["key"] = True
        else:
            tag_last = True
    at = (e.get("ctx") or {}).get("at") or ()
    return tuple(path) + tuple(at), tag_last


def _message(e: dict, path: tuple, model, doc) -> str:
    t, ctx, value = e["type"], e.get("ctx") or {}, e.get("input")
    if t == "rightresponse":
        return ctx["message"]
    if t == "extra_forbidden":
        allowed = _keys(model, path[:-1], doc)
        return f"unknown key {path[-1]!r}" + did_you_mean(path[-1], allowed) + (
            f"; keys: {', '.join(allowed)}" if allowed else "")
    if t == "missing":
        hint = _missing_hint(model, path, doc)
        return "missing" + (f": {hint}" if hint else "")
    if t == "literal_error" and e.get("key"):
        options = _literal(model, path[:-1], doc, key=True)
        return f"unknown key {value!r}" + did_you_mean(value, options) + (
            f"; keys: {', '.join(map(str, options))}" if options else "")
    if t == "literal_error":
        options = _literal(model, path, doc)
        return f"unknown value {value!r}" + did_you_mean(value, options) + (
            f"; one of: {', '.join(map(str, options))}" if options else "")
    if t in _KIND:
        return f"expected {_KIND[t]}, got {value!r}"
    if t in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[t]
        bound = next(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt"))
        return f"must be {op} {bound:g}, got {value!r}"
    if t in ("too_short", "too_long"):
        return f"expected {'at least' if t == 'too_short' else 'at most'} " \
               f"{ctx.get('min_length', ctx.get('max_length'))} item(s), got {len(value) if hasattr(value, '__len__') else value!r}"
    if t == "value_error":
        return str(ctx.get("error", e["msg"])).removeprefix("Value error, ")
    return e["msg"]


# ---------------------------------------------------------------------------- the model at a path

def _unwrap(tp, value=None):
    """Strip Optional/Annotated; of a union, the member that fits ``value``'s kind."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            pick = None
            for a in members:
                o = get_origin(a) or a
                if isinstance(value, dict) and ((isinstance(o, type) and issubclass(o, (BaseModel, dict)))):
                    pick = a
                elif isinstance(value, list) and o in (list, tuple):
                    pick = a
            tp = pick if pick is not None else (members[0] if len(members) == 1 else tp)
            if pick is None and len(members) != 1:
                return tp
            continue
        return tp


def _field(model: type[BaseModel], key):
    for name, f in model.model_fields.items():
        if (f.alias or name) == key:
            return f
    return None


def _type_at(model, path: tuple, doc):
    tp, cur = model, doc
    for part in path:
        tp = _unwrap(tp, cur)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = _field(tp, part)
            if f is None:
                return None
            tp = f.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        else:
            return None
        cur = cur.get(part) if isinstance(cur, dict) else (
            cur[part] if isinstance(cur, list) and isinstance(part, int) and part < len(cur) else None)
    return _unwrap(tp, cur)


def _at(doc, path):
    cur = doc
    for part in path:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _keys(model, path, doc) -> list[str]:
    tp = _type_at(model, path, doc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _literal(model, path, doc, key: bool = False) -> list:
    tp = _type_at(model, path, doc)
    if key and get_origin(tp) is dict:
        tp = get_args(tp)[0]
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    for a in get_args(tp) if get_origin(tp) in (typing.Union, types.UnionType) else ():
        if get_origin(a) is Literal:
            return list(get_args(a))
    return []


def _missing_hint(model, path, doc) -> str:
    parent = _unwrap(_type_at(model, path[:-1], doc))
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        f = _field(parent, path[-1])
        if f is not None and f.description:
            return f.description
    return ""


def json_schema(model: type[BaseModel], title: str, description: str) -> dict:
    """The model's JSON Schema (draft 2020-12) for editors (yaml-language-server)."""
    schema = model.model_json_schema(mode="validation")
    schema["title"] = title
    schema["description"] = description
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# The file formats, each its model: `rightresponse schema KIND`.
FORMATS = {
    "adapter": ("rightresponse.ingest.adapter", "AdapterFile",
                "How one CAD export's columns map to the call record (docs/adapters.md)."),
    "policy": ("rightresponse.policy.file_format", "PolicyFile",
               "Who responds to which calls: ordered rules and a default (docs/policies.md)."),
    "scenario": ("rightresponse.simulate.scenario", "ScenarioFile",
                 "Data, policy, responder pools and dispatch rules for a simulation (docs/scenarios.md)."),
}


def file_schema(kind: str) -> dict:
    """The JSON Schema of an adapter, policy or scenario file."""
    import importlib

    if kind not in FORMATS:
        raise ValueError(f"unknown file format {kind!r}; formats: {', '.join(FORMATS)}")
    module, name, description = FORMATS[kind]
    model = getattr(importlib.import_module(module), name)
    return json_schema(model, f"rightresponse {kind}", description)
