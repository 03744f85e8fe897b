"""The HTTP API and the console, one FastAPI app: triage, policies, decisions, call types.

Triage is the hot path: when the call type's category is already cached the whole request
is answered on the event loop in well under a millisecond of work; a call type never seen
before is classified on a worker thread so it cannot stall other calls. Decisions are
re-triaged on the server against the policy version the call-taker saw (by hash), so the
log records what the policy really recommended, not what a client claims it did.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..policy import FLAGS, RESPONDERS, Policy, PolicyError, flag_info, make_call, triage
from ..schema import ORIGINS
from ..taxonomy.call_type_text import match_key
from .calltypes import known_call_types
from .policies import PolicySet, explain
from .practice import PracticeRoom, answer_view, build_deck, card_view, check_answer, practice_row
from .security import Guard, HostCheck, is_loopback, token_from_env, token_ok
from ..decisions.log import ConflictError, DecisionStore, StoreError, normalize_url, redact, valid_call_taker
from ..decisions.dispatch_summary import ALTERNATIVE_RESPONDERS, summarize_decisions, utc_instant

log = logging.getLogger("rightresponse.service")

STATIC = Path(str(resources.files("rightresponse.service") / "static"))

OVERRIDE_REASONS = {
    "caller_information": "The caller said something the questions did not cover",
    "safety_concern": "Safety concern for the caller, the public or the responder",
    "responder_unavailable": "The recommended responder is busy or off duty",
    "caller_request": "The caller asked for a different response",
    "supervisor_instruction": "A supervisor instructed otherwise",
    "policy_does_not_fit": "The policy does not fit this call",
    "other": "Other (explain in the note)",
}


@dataclass
class ServiceConfig:
    """Everything `rightresponse serve` can set. ``policies``: names or files; the first is the default."""

    policies: list = field(default_factory=lambda: ["status-quo"])
    db_url: str | None = None
    workspace: str | None = None
    agency: str | None = None
    model_path: str | None = None
    overrides: str | None = None
    classifier: object = None  # an already-trained taxonomy classifier (tests, embedding)
    api_token: str | None = None  # default: $RIGHTRESPONSE_API_TOKEN
    read_access: Literal["loopback", "open", "token"] = "loopback"
    rate: float = 2000.0  # requests per second per client, on average
    burst: float = 4000.0
    max_body: int = 64 * 1024
    reload_interval: float = 2.0  # seconds between policy-file checks; 0 = never
    allow_hosts: list = field(default_factory=list)  # Host names answered besides loopback (serve --allow-host)
    store_narrative: bool = False
    practice: str | None = None  # a workspace whose past calls practice mode deals (serve --practice)
    practice_seed: int | None = None  # a fixed deal order (tests, demonstrations); default: unpredictable
    warm: bool = True  # classify the known call types in the background at start


# ---------------------------------------------------------------------------- request models

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(s: str | None) -> str | None:
    if s is not None and _CONTROL.search(s):
        raise ValueError("control characters are not allowed")
    return s


def _text(max_length: int, min_length: int = 0):
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_no_control)]


ResponderId = Literal[RESPONDERS]  # type: ignore[valid-type]
OriginId = Literal[ORIGINS]  # type: ignore[valid-type]
ReasonCode = Literal[tuple(OVERRIDE_REASONS)]  # type: ignore[valid-type]


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_type: _text(200, 1) = Field(description="Call type as the call-taker names it: a known type or free text.")
    flags: list[_text(40)] | dict[_text(40), bool] = Field(
        default_factory=list, max_length=len(FLAGS) * 2,
        description="Answered questions: flag names (present), `no_NAME` (confirmed absent), or {name: true/false}.")
    priority: Annotated[int, Field(ge=0, le=99)] | _text(8) | None = Field(
        default=None, description="Priority rank, 1 = most urgent ('2', 'P2' or 2).")
    at: _text(40) | None = Field(
        default=None, description="Local time of the call: ISO date-time or HH:MM. Default: now (server clock).")
    origin: OriginId | None = None
    unavailable: list[ResponderId] = Field(default_factory=list, max_length=len(RESPONDERS),
                                           description="Responders known to be busy right now.")
    policy: _text(100) | None = Field(default=None, description="Policy id (default: the service's default policy).")


class Question(BaseModel):
    flag: str | None = Field(description="The risk flag this question establishes (null: a question without a flag).")
    text: str


class Screened(BaseModel):
    responder: str
    co_responder: str | None
    fallback: str | None


class Floor(BaseModel):
    rule: str = Field(description="The rule that matched.")
    would_send: str = Field(description="Who that rule would have sent.")
    flags: list[str] = Field(description="The danger flags present (answered yes or stated by the call type).")


class TriageOut(BaseModel):
    responder: str = Field(description="Who to send now. With status screen_first: who to send if the call-taker cannot ask.")
    co_responder: str | None
    fallback: str | None
    rule: str
    reason: str
    questions: list[str] = Field(description="What to ask, in order: the screening questions left first, gravest first.")
    policy_hash: str
    status: Literal["final", "screen_first"] = Field(
        description="screen_first: the policy sends a responder without police only once every screening question "
                    "is answered no; `if_screened` is that answer, `screen` the questions left.")
    if_screened: Screened | None
    screen: list[str] = Field(description="Screening flags still unanswered, gravest first.")
    call_type_flags: list[str] = Field(description="Policy flags the call type itself sets (a 'no' cannot clear them).")
    call_type_dangers: list[str] = Field(description="What the call type states: weapon, violence, impaired_driving, prisoner, ...")
    floor: Floor | None = Field(description="Set when the safety floor overrode the rule: no responder without police into danger.")
    policy: str
    category: str | None
    intended: str
    notes: list[str]
    ask: list[Question]


class DecisionIn(CallIn):
    id: uuid.UUID | None = Field(default=None, description="Client-chosen id: replaying a request with the same id records it once.")
    policy_hash: Annotated[str, Field(min_length=12, max_length=64, pattern=r"^[0-9a-f]+$")] | None = Field(
        default=None, description="Hash of the policy version whose recommendation was shown (default: the live one).")
    dispatched: ResponderId = Field(description="Who was actually sent.")
    dispatched_co: ResponderId | None = None
    override_reason: ReasonCode | None = Field(default=None, description="Required when the dispatch differs from the recommendation.")
    override_note: _text(500) | None = None
    call_taker: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")]
    recommended_at: Annotated[datetime | None, AfterValidator(utc_instant)] = None
    narrative: _text(4000) | None = Field(
        default=None, description="Stored only when the service runs with narratives enabled; dropped otherwise.")


class DealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: _text(100) | None = Field(default=None, description="Policy id to practise (default: the service's default).")
    trainee: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")] | None = Field(
        default=None, description="The trainee's id, for the practice report (default: anonymous).")


FlagId = Literal[FLAGS]  # type: ignore[valid-type]


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(description="The id of the dealt call.")
    answers: dict[FlagId, bool] = Field(
        default_factory=dict, description="The screening questions asked: {flag: true/false}; a question left out was not asked.")
    responder: ResponderId = Field(description="Who the trainee would send.")


class DecisionOut(BaseModel):
    id: str
    recorded_at: str
    accepted: bool
    responder: str
    co_responder: str | None
    dispatched: str
    dispatched_co: str | None
    rule: str
    policy: str
    policy_hash: str
    replay: bool
    narrative_stored: bool


# ---------------------------------------------------------------------------- the app

class State:
    def __init__(self, cfg: ServiceConfig):
        self.cfg = cfg
        self.token = cfg.api_token if cfg.api_token is not None else token_from_env()
        if cfg.overrides is not None:  # read now: a bad file must stop the start, not every triage later
            from ..taxonomy.crosswalk import load_overrides

            load_overrides(cfg.overrides)
        self.policies = PolicySet(cfg.policies, agency=cfg.agency, model_path=cfg.model_path,
                                  overrides=cfg.overrides, classifier=cfg.classifier)
        ct = known_call_types(cfg.agency, cfg.workspace)
        self.practice = None
        if cfg.practice:
            import random

            self.practice = PracticeRoom(build_deck(cfg.practice),
                                         random.Random(cfg.practice_seed) if cfg.practice_seed is not None else None)
        self.store = DecisionStore(cfg.db_url)  # last: a set-up error above leaves no database file behind
        self.agency = ct["agency"]
        if self.agency and not cfg.agency:
            self.policies._cat_args["agency"] = self.agency
        self.call_types = ct
        self.known = {match_key(it["value"]) for it in ct["call_types"]}
        self.ready = threading.Event()
        self.warm_error: str | None = None
        self._call_types_json: bytes | None = None

    def warm(self) -> None:
        """Classify every known call type once, so the console's choices answer instantly."""
        try:
            values = [it["value"] for it in self.call_types["call_types"]]
            seen = set()
            for slot in self.policies.slots:
                c = self.policies.categorizer(slot.policy)
                if id(c) in seen:
                    continue
                seen.add(id(c))
                cats = c.classify(values)
                for it in self.call_types["call_types"]:  # the effective category (overrides win)
                    it["category"] = cats.get(it["value"], (None,))[0] or it["category"]
        except Exception as exc:  # the service still answers; unknown types classify on demand
            self.warm_error = f"{type(exc).__name__}: {exc}"
            log.exception("warm-up failed")
        finally:
            self._call_types_json = None
            # The warm-up leaves a large, long-lived heap (classifier, caches): move it out of
            # the collector's reach so full collections do not pause requests later.
            gc.collect()
            gc.freeze()
            self.ready.set()

    def read_allowed(self, client_host: str | None, authorization: str | None) -> bool:
        mode = self.cfg.read_access
        if mode == "open" or (mode == "loopback" and is_loopback(client_host)):
            return True
        return token_ok(self.token, authorization)

    def recommend(self, policy: Policy, slot, body: CallIn, category: str):
        slot.note_text(body.call_type)
        flags = body.flags if isinstance(body.flags, dict) else list(body.flags)
        call = make_call(call_type=body.call_type, category=category, priority=body.priority,
                         origin=body.origin, at=body.at if body.at is not None else datetime.now(),
                         flags=flags, unavailable=body.unavailable)
        return triage(policy, call), call

    @staticmethod
    def payload(rec, slot) -> bytes:
        return json.dumps(explain(rec, slot.questions)).encode("utf-8")

    def call_types_json(self) -> bytes:
        b = self._call_types_json
        if b is None:
            b = json.dumps(self.call_types, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if self.ready.is_set():
                self._call_types_json = b
        return b


bearer = HTTPBearer(auto_error=False, description="The token in $RIGHTRESPONSE_API_TOKEN on the server.")


def create_app(config: ServiceConfig | None = None, **kw) -> FastAPI:
    """The service as an ASGI app. Loads the policies and opens the decision log now, so a bad
    policy, database URL or overrides file fails here, before serving; raises PolicyError, StoreError
    or TaxonomyError (all ValueErrors)."""
    cfg = config or ServiceConfig()
    for k, v in kw.items():
        if not hasattr(cfg, k):
            raise TypeError(f"unknown setting {k!r}")
        setattr(cfg, k, v)
    if isinstance(cfg.policies, (str, Path)):
        cfg.policies = [cfg.policies]
    st = State(cfg)

    @asynccontextmanager
    async def lifespan(app):
        if cfg.warm:
            threading.Thread(target=st.warm, name="warm-up", daemon=True).start()
        else:
            st.ready.set()
        st.policies.watch(cfg.reload_interval)
        try:
            yield
        finally:
            st.policies.stop()
            st.store.close()

    app = FastAPI(
        title="rightresponse call-taker service", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # the interactive docs load scripts from a CDN; the console must not
        description="Triage calls by the city's responder policy and record what was dispatched. "
                    "Writes need `Authorization: Bearer $RIGHTRESPONSE_API_TOKEN`.",
    )
    app.state.rr = st

    async def need_token(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)):
        if not st.token:
            raise HTTPException(401, "writes are disabled: the server has no RIGHTRESPONSE_API_TOKEN",
                                headers={"WWW-Authenticate": "Bearer"})
        if not token_ok(st.token, request.headers.get("authorization")):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    async def may_read(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)):
        check_read(request)

    def check_read(request: Request):
        if not st.read_allowed(request.client.host if request.client else None, request.headers.get("authorization")):
            raise HTTPException(401, "a valid bearer token is required from outside this machine",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errs = [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()]
        first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
        where = ".".join(x for x in first["loc"] if x != "body") or "request"
        return JSONResponse({"detail": f"{where}: {first['msg']}", "errors": errs}, status_code=422)

    @app.exception_handler(ValueError)
    async def _value_error(request: Request, exc: ValueError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    # -- triage

    def _slot(name):
        slot = st.policies.get(name)
        if slot is None:
            raise HTTPException(404, f"no policy {name!r} is loaded; loaded: "
                                     + ", ".join(s.id for s in st.policies.slots))
        return slot

    # Valid triage requests for cached call types are answered by FastTriage below, before the
    # framework; this route answers everything else (errors, new call types) with the same code.
    @app.post("/v1/triage", response_model=TriageOut, tags=["triage"],
              responses={401: {"description": "Token required (clients other than loopback)"},
                         404: {"description": "Unknown policy"}, 422: {"description": "Invalid call"}},
              openapi_extra={"security": [{"HTTPBearer": []}, {}]})
    async def post_triage(body: CallIn, request: Request):
        """Who to send, why, the fallback, and the questions whose answer could change it."""
        check_read(request)
        slot = _slot(body.policy)
        policy = slot.policy
        cz = st.policies.categorizer(policy)
        hit = cz.known(body.call_type)
        # never seen: classify off the event loop; "" = classified, no category fits
        cat = hit[0] if hit is not None else await run_in_threadpool(cz.category, body.call_type)
        cat = cat or ""
        rec, _ = st.recommend(policy, slot, body, cat)
        return Response(st.payload(rec, slot), media_type="application/json")

    # -- policies

    @app.get("/v1/policies", tags=["policies"], dependencies=[Depends(may_read)])
    def get_policies():
        """The loaded policies: id, title, version hash, rules, file, reload state."""
        return {"default": st.policies.default.id,
                "policies": [s.info(i == 0) for i, s in enumerate(st.policies.slots)]}

    @app.get("/v1/policies/{name}", tags=["policies"], responses={404: {"description": "Not loaded"}},
             dependencies=[Depends(may_read)])
    def get_policy(name: Annotated[str, PathParam(max_length=100)]):
        """One loaded policy as data: rules, responders (names, hours, fallbacks), sources, examples."""
        slot = _slot(name)
        d = slot.policy.to_dict()
        d["path"] = Path(d["path"]).name
        d["reload_error"] = slot.reload_error
        cat = slot.policy.responders
        d["responders"] = {rid: {**cat[rid].to_dict(), "description": cat[rid].description} for rid in RESPONDERS}
        return d

    @app.post("/v1/policies/reload", tags=["policies"], dependencies=[Depends(need_token)],
              responses={401: {"description": "Missing or wrong token"}, 422: {"description": "A policy file is invalid; the old version stays live"}})
    def reload_policies():
        """Re-read every policy file now. A bad file is rejected and its old version stays live."""
        results = st.policies.check_all(force=True)
        out = [{**s.info(i == 0), "reloaded": r is True} for i, (s, r) in enumerate(results)]
        bad = [o for o in out if o["reload_error"]]
        return JSONResponse({"policies": out}, status_code=422 if bad else 200)

    # -- decisions

    @app.post("/v1/decisions", response_model=DecisionOut, status_code=201, tags=["decisions"],
              dependencies=[Depends(need_token)],
              responses={200: {"description": "Replay of a decision already recorded (same id)", "model": DecisionOut},
                         401: {"description": "Missing or wrong token"}, 404: {"description": "Unknown policy"},
                         409: {"description": "Policy version no longer loaded, or id reused with other content"},
                         422: {"description": "Invalid decision"}})
    def post_decision(body: DecisionIn):
        """Record what was dispatched for a call, against the policy's recommendation. Committed before 2xx."""
        slot = _slot(body.policy)
        policy = slot.version(body.policy_hash)
        if policy is None:
            raise HTTPException(409, f"policy version {body.policy_hash[:12]} is no longer loaded (the policy "
                                     f"changed); triage the call again")
        if not valid_call_taker(body.call_taker):
            raise HTTPException(422, "call_taker: letters, digits and . _ @ - only")
        if body.dispatched_co is not None and body.dispatched_co == body.dispatched:
            raise HTTPException(422, "dispatched_co: the same as dispatched")
        cat = st.policies.categorizer(policy).category(body.call_type) or ""
        rec, call = st.recommend(policy, slot, body, cat)
        accepted = (body.dispatched, body.dispatched_co) == (rec.responder, rec.co_responder)
        if not accepted and body.override_reason is None:
            raise HTTPException(422, f"override_reason: required, because {body.dispatched} was dispatched but the "
                                     f"policy recommended {rec.responder}"
                                     + (f" with {rec.co_responder}" if rec.co_responder else ""))
        if accepted and (body.override_reason is not None or body.override_note):
            raise HTTPException(422, "override_reason: the dispatch follows the recommendation; leave it empty")
        known = match_key(body.call_type) in st.known
        store_text = cfg.store_narrative
        eligible = rec.intended in ALTERNATIVE_RESPONDERS
        rec_at = body.recommended_at  # UTC, checked in range by the model
        if rec_at is not None and st.store.dialect == "sqlite":
            rec_at = rec_at.replace(tzinfo=None)
        now = datetime.now(timezone.utc)
        row = {
            "id": str(body.id or uuid.uuid4()),
            "recorded_at": now.replace(tzinfo=None) if st.store.dialect == "sqlite" else now,
            "recommended_at": rec_at,
            "call_at": body.at,
            "policy": policy.id, "policy_hash": policy.hash, "rule": rec.rule, "category": rec.category,
            "call_type": body.call_type if (known or store_text) else None, "call_type_known": known,
            "priority": call.priority, "flags": dict(call.flags),
            "recommended": rec.responder, "recommended_co": rec.co_responder, "fallback": rec.fallback,
            "intended": rec.intended, "dispatched": body.dispatched, "dispatched_co": body.dispatched_co,
            "accepted": accepted, "override_reason": body.override_reason,
            "override_note": body.override_note or None,
            "eligible": eligible, "handled": eligible and body.dispatched == rec.intended,
            "call_taker": body.call_taker,
            "narrative": body.narrative if store_text else None,
        }
        try:
            res = st.store.record(row)
        except ConflictError as exc:
            raise HTTPException(409, str(exc)) from None
        r = res.row
        ts = r["recorded_at"]
        if isinstance(ts, datetime) and ts.tzinfo is None:
            ts = ts.replace(tzinfo=timezone.utc)
        out = {"id": r["id"], "recorded_at": ts.isoformat() if isinstance(ts, datetime) else str(ts),
               "accepted": bool(r["accepted"]), "responder": r["recommended"], "co_responder": r["recommended_co"],
               "dispatched": r["dispatched"], "dispatched_co": r["dispatched_co"], "rule": r["rule"],
               "policy": r["policy"], "policy_hash": r["policy_hash"], "replay": not res.created,
               "narrative_stored": r["narrative"] is not None}
        return JSONResponse(out, status_code=201 if res.created else 200)

    @app.get("/v1/decisions/summary", tags=["decisions"], dependencies=[Depends(may_read)])
    def decisions_summary(since: Annotated[datetime | None, Query()] = None,
                          until: Annotated[datetime | None, Query()] = None,
                          policy: Annotated[str | None, Query(max_length=100)] = None):
        """Override rate by rule and by category; share of eligible calls the alternative team handled."""
        bounds = {}
        for name, d in (("since", since), ("until", until)):
            try:
                bounds[name] = utc_instant(d)
            except ValueError as exc:
                raise HTTPException(422, f"{name}: {exc}") from None
        return summarize_decisions(st.store, policy=policy, **bounds).to_dict()

    # -- practice mode (serve --practice WORKSPACE)

    def _room():
        if st.practice is None:
            raise HTTPException(404, "practice mode is off: start the service with --practice WORKSPACE")
        return st.practice

    def _categorize(policy):
        cz = st.policies.categorizer(policy)
        return lambda values: {v: (cat or None) for v, (cat, _conf) in cz.classify(values).items()}

    @app.post("/v1/practice/deal", tags=["practice"], dependencies=[Depends(may_read)],
              responses={404: {"description": "Practice mode off, or unknown policy"}, 422: {"description": "Invalid body"}})
    def practice_deal(body: DealIn):
        """A past call from the workspace, to practise on: call type, priority, how it came in, day
        and hour, the risks the call type and narrative show. Never an address, a name or the narrative."""
        room = _room()
        slot = _slot(body.policy)
        policy = slot.policy
        d = room.deal(policy, _categorize(policy), body.trainee or "anonymous")
        return card_view(d, policy)

    @app.post("/v1/practice/answer", tags=["practice"], dependencies=[Depends(may_read)],
              responses={404: {"description": "Practice mode off, or no such dealt call"},
                         409: {"description": "Answered already with another answer, or the policy changed"},
                         422: {"description": "Invalid body"}})
    def practice_answer(body: AnswerIn):
        """Check the trainee's answers and responder against the policy; record it in the decision
        log as practice (never counted as a dispatch)."""
        room = _room()
        d = room.get(str(body.id))
        if d is None:
            raise HTTPException(404, "no such practice call (never dealt, or forgotten since): deal a new one")
        key = (tuple(sorted(body.answers.items())), body.responder)
        done = room.answered(d.id)
        if done is not None:
            if done[0] != key:
                raise HTTPException(409, "this practice call was answered already; deal a new one")
            return {**done[1], "replay": True}
        slot = _slot(d.policy_id)
        policy = slot.version(d.policy_hash)
        if policy is None:
            raise HTTPException(409, "the policy changed since this call was dealt; deal a new one")
        chk = check_answer(policy, d.card, d.category, dict(body.answers), body.responder)
        out = answer_view(d, chk, policy, slot.questions, body.responder)
        row = practice_row(d, chk, policy, body.answers, body.responder, naive_utc=st.store.dialect == "sqlite")
        try:
            st.store.record(row)
        except ConflictError as exc:
            raise HTTPException(409, str(exc)) from None
        room.remember(d.id, key, out)
        return out

    @app.get("/practice", include_in_schema=False)
    def practice_page():
        _room()
        return FileResponse(STATIC / "practice.html", media_type="text/html; charset=utf-8")

    # -- console support

    @app.get("/v1/call-types", tags=["console"], dependencies=[Depends(may_read)])
    def call_types():
        """The known call types (the city's list), for the console's fuzzy search."""
        return Response(st.call_types_json(), media_type="application/json")

    @app.get("/v1/console", tags=["console"], dependencies=[Depends(may_read)])
    def console_config():
        """What the console needs besides the policy: flags, override reasons, settings."""
        return {"default_policy": st.policies.default.id,
                "policies": [{"id": s.id, "title": s.policy.title} for s in st.policies.slots],
                "flags": {n: fi.question for n, fi in flag_info().items()},
                "override_reasons": [{"code": k, "label": v} for k, v in OVERRIDE_REASONS.items()],
                "store_narrative": cfg.store_narrative, "writes_enabled": bool(st.token),
                "practice": st.practice is not None,
                "agency": st.agency, "call_type_source": st.call_types["source"]}

    @app.get("/healthz", tags=["service"])
    def healthz():
        """Liveness and readiness: ready once the known call types are classified."""
        db = st.store.ping()
        body = {"status": "ok" if db else "degraded", "ready": st.ready.is_set(), "db": db,
                "policies": {s.id: s.policy.hash[:12] for s in st.policies.slots}, "version": __version__}
        if st.warm_error:
            body["warm_error"] = st.warm_error
        return JSONResponse(body, status_code=200 if db else 503)

    # -- the page

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(FastTriage, state=st)
    app.add_middleware(Guard, rate=cfg.rate, burst=cfg.burst, max_body=cfg.max_body, hosts=HostCheck(cfg.allow_hosts))
    return app


class FastTriage:
    """ASGI shortcut for the hot path: a valid triage request whose call type is already
    classified is answered here, without the framework's routing and dependency machinery
    (it roughly halves the server time per call). Anything else, including every error,
    goes to the FastAPI route, so responses and error messages have one source. It sits
    behind the Guard (Host, size, JSON content type), and validates the body exactly as the
    route does (json.loads, then the model in Python mode), so it accepts nothing the route
    would refuse."""

    def __init__(self, app, state: State):
        self.app = app
        self.st = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/v1/triage" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        msg = await receive()  # the Guard has buffered the whole body into one message
        raw = msg.get("body", b"")
        out = None
        try:
            if msg.get("type") == "http.request" and not msg.get("more_body"):
                out = self._answer(scope, raw)
        except Exception:  # let the route produce the proper error response
            out = None
        if out is None:
            sent = [False]

            async def replay():
                if not sent[0]:
                    sent[0] = True
                    return msg
                return await receive()

            return await self.app(scope, replay, send)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    def _answer(self, scope, raw: bytes) -> bytes | None:
        st = self.st
        auth = None
        for k, v in scope.get("headers", ()):
            if k == b"authorization":
                auth = v.decode("latin-1")
        client = scope.get("client")
        if not st.read_allowed(client[0] if client else None, auth):
            return None
        body = CallIn.model_validate(json.loads(raw))
        slot = st.policies.get(body.policy)
        if slot is None:
            return None
        policy = slot.policy
        hit = st.policies.categorizer(policy).known(body.call_type)
        if hit is None:
            return None
        rec, _ = st.recommend(policy, slot, body, hit[0] or "")
        return st.payload(rec, slot)


__all__ = ["ServiceConfig", "create_app", "OVERRIDE_REASONS", "PolicyError", "StoreError", "normalize_url", "redact"]
