"""The call-taker service under load: triage latency at a fixed rate, and no lost decisions.

    python benchmarks/serve.py [--seconds 60] [--rate 500] [--postgres | --db URL] [--connections 16]

The server runs in its own process (``rightresponse serve``, as a user starts it)
on a free loopback port; this process is the client. Load is open-loop: request i is due at
start + i/rate whatever happened to earlier ones, and its latency is measured from that due
time, so a stall shows up in the percentiles instead of silently lowering the rate.

  phase 1  POST /v1/triage at --rate for --seconds, call types drawn from the served list
           (weighted by how many agencies use them) with random answered flags and times.
           Reports p50/p99/max latency and errors (non-200 or no answer).
  phase 2  POST /v1/decisions at --rate for --seconds. Halfway through, the server is killed
           with SIGKILL and restarted on the same database. A request that got no answer is
           retried with the same id (the idempotency key) until acknowledged. At the end the
           ids in the database are compared with the ids acknowledged: none may be missing,
           none duplicated, and every acknowledgement given before the kill must be on disk.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rightresponse.decisions.log import DecisionStore  # noqa: E402
from rightresponse.service.testing import ServerProcess, temporary_postgres, trained_model  # noqa: E402

TOKEN = "bench-" + uuid.uuid4().hex
FLAGS = ["weapon", "violence", "crime_in_progress", "injury", "suicide_risk_with_means", "intoxication", "juvenile"]


# ---------------------------------------------------------------------------- a minimal HTTP/1.1 client

class Conn:
    """One kept-alive connection; at most one request in flight (like a browser tab)."""

    def __init__(self, port: int):
        self.port = port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def request(self, path: str, body: bytes, auth: bool) -> tuple[int, bytes]:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n" + (f"Authorization: Bearer {TOKEN}\r\n" if auth else "") + "\r\n")
        self.w.write(head.encode() + body)
        await self.w.drain()
        status_line = await self.r.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.r.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                length = int(v)
        data = await self.r.readexactly(length) if length else b""
        return status, data

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


async def run_phase(port_ref, path, bodies, rate, seconds, connections, auth, retry=False, on_tick=None, on_ack=None):
    """Open-loop load. Returns ([(due, ms from due, ms from send)] of first tries, errors, acked ids, retries)."""
    n = int(rate * seconds)
    q: asyncio.Queue = asyncio.Queue()
    lat: list[float] = []
    errors = 0
    acked: set = set()
    retried = 0
    outstanding = [0]
    t0 = time.perf_counter() + 0.05

    async def schedule():
        for i in range(n):
            due = t0 + i / rate
            d = due - time.perf_counter()
            if d > 0:
                await asyncio.sleep(d)
            if on_tick:
                on_tick(i, n)
            outstanding[0] += 1
            q.put_nowait((due, bodies[i % len(bodies)] if not retry else bodies[i], True))
        while outstanding[0]:  # retries still queued or in flight
            await asyncio.sleep(0.01)
        for _ in range(connections):
            q.put_nowait(None)

    async def worker():
        nonlocal errors, retried
        c = Conn(port_ref[0])
        while True:
            item = await q.get()
            if item is None:
                break
            due, body, first = item
            try:
                c.port = port_ref[0]
                sent_at = time.perf_counter()
                status, data = await c.request(path, body, auth)
            except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
                c.close()
                if retry:  # no answer: the decision may or may not be stored; send it again, same id
                    retried += 1
                    await asyncio.sleep(0.05)
                    q.put_nowait((due, body, False))
                else:
                    errors += 1
                    outstanding[0] -= 1
                continue
            outstanding[0] -= 1
            if status in (200, 201):
                if first:
                    now = time.perf_counter()
                    lat.append((due, (now - due) * 1000, (now - sent_at) * 1000))
                if retry:
                    did = json.loads(body)["id"]
                    acked.add(did)
                    if on_ack:
                        on_ack(did)
            else:
                errors += 1
        c.close()

    await asyncio.gather(schedule(), *[worker() for _ in range(connections)])
    return lat, errors, acked, retried


def arun(coro):
    """Run the client's event loop; uvloop when installed (less client overhead), and no garbage
    collection pauses on the client side while a phase runs."""
    import gc

    gc.disable()
    try:
        try:
            import uvloop

            return uvloop.run(coro)
        except ImportError:
            return asyncio.run(coro)
    finally:
        gc.enable()


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return round(xs[k], 3)


# ---------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="duration of each phase (default 60)")
    ap.add_argument("--rate", type=float, default=500.0, help="requests per second (default 500)")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--policy", default="denver-star")
    ap.add_argument("--db", help="decision log URL (default: a SQLite file in a temporary directory)")
    ap.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL (Debian's binaries) for the log")
    ap.add_argument("--model", help="saved taxonomy model (default: trained once into the temp dir)")
    ap.add_argument("--no-kill", action="store_true", help="do not kill the server during phase 2")
    ap.add_argument("--log-level", default="info",
                    help="server log level (default info, the service's default: one access-log line per request)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rr-bench-serve-"))
    model = a.model or trained_model(Path(tempfile.gettempdir()) / "rightresponse-model" / "taxonomy.pkl")
    pg = temporary_postgres() if a.postgres else None
    db = pg.__enter__() if pg else (a.db or f"sqlite:///{tmp / 'decisions.db'}")
    backend = "postgresql" if db.startswith("postgres") else "sqlite"
    args = ["--policy", a.policy, "--db", db, "--model", model, "--reload-interval", "0",
            "--rate", str(max(4 * a.rate, 2000)), "--burst", str(max(8 * a.rate, 4000)), "--log-level", a.log_level]
    srv = ServerProcess(args, env={"RIGHTRESPONSE_API_TOKEN": TOKEN}, log_path=tmp / "server.log")
    rng = random.Random(a.seed)
    load_before = round(os.getloadavg()[0], 2)  # other work on the machine shows up in the p99
    try:
        t = time.perf_counter()
        srv.start(timeout=300)
        startup = time.perf_counter() - t
        import urllib.request

        with urllib.request.urlopen(srv.url + "/v1/call-types") as r:
            types = json.loads(r.read())["call_types"]
        weights = [len(it.get("agencies") or []) + (it.get("count") or 0) for it in types]

        def call():
            flags = [f if rng.random() < 0.15 else "no_" + f for f in FLAGS if rng.random() < 0.4]
            return {"call_type": rng.choices(types, weights)[0]["value"], "flags": flags,
                    "priority": str(rng.randint(1, 5)), "at": f"2025-10-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"}

        triage_bodies = [json.dumps(call()).encode() for _ in range(5000)]
        port = [srv.port]
        print(f"server up in {startup:.1f}s ({backend}); {len(types)} call types; warming up", file=sys.stderr)
        arun(run_phase(port, "/v1/triage", triage_bodies, a.rate, min(3.0, a.seconds), a.connections, False))

        print(f"phase 1: triage at {a.rate:.0f}/s for {a.seconds:.0f}s", file=sys.stderr)
        t = time.perf_counter()
        lat, errors, _, _ = arun(run_phase(port, "/v1/triage", triage_bodies, a.rate, a.seconds, a.connections, False))
        lat_send = [ms for _, _, ms in lat]
        lat = [ms for _, ms, _ in lat]
        triage_wall = time.perf_counter() - t

        n2 = int(a.rate * a.seconds)
        dec = []
        for i in range(n2):
            c = call()
            c.update(id=str(uuid.uuid4()), call_taker=f"ct-{i % 40}", dispatched="no_dispatch", override_reason="other")
            dec.append(json.dumps(c).encode())
        kill_at = n2 // 2
        state = {"killed": False, "acked_before": None, "restart_s": None, "kill_time": None}
        acked_live: set = set()

        print(f"phase 2: decisions at {a.rate:.0f}/s for {a.seconds:.0f}s" + ("" if a.no_kill else ", SIGKILL halfway"),
              file=sys.stderr)

        async def phase2():
            loop = asyncio.get_running_loop()

            def tick(i, n):
                if a.no_kill or state["killed"] or i < kill_at:
                    return
                state["killed"] = True
                state["acked_before"] = set(acked_live)
                state["kill_time"] = time.perf_counter()
                srv.kill()

                def restart():
                    t = time.perf_counter()
                    srv.start(timeout=300, ready=False)
                    state["restart_s"] = time.perf_counter() - t

                loop.run_in_executor(None, restart)

            return await run_phase(port, "/v1/decisions", dec, a.rate, a.seconds, a.connections, True,
                                   retry=True, on_tick=tick, on_ack=acked_live.add)

        t = time.perf_counter()
        dlat, derr, acked, retried = arun(phase2())
        dec_wall = time.perf_counter() - t
        # Decision latency on the live server: requests due before the kill (the outage and the
        # backlog after the restart are reported by restart_s and retried instead).
        kt = state["kill_time"]
        dlat = [ms for due, ms, _ in dlat if kt is None or due < kt]
        srv.stop()
        store = DecisionStore(db)
        try:
            stored = store.ids()
            count = store.count()
        finally:
            store.close()
        sent_ids = {json.loads(b)["id"] for b in dec}
        before = state["acked_before"] or set()
        res = {
            "benchmark": "serve", "date": date.today().isoformat(),
            "load_average_before": load_before, "load_average_after": round(os.getloadavg()[0], 2),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}",
            "policy": a.policy, "db": backend, "server_log_level": a.log_level, "rate": a.rate, "seconds": a.seconds, "connections": a.connections,
            "server_startup_s": round(startup, 2),
            "triage": {"requests": len(lat) + errors, "errors": errors, "achieved_rps": round((len(lat) + errors) / triage_wall, 1),
                       "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": round(max(lat), 3) if lat else None,
                       "p99_ms_from_send": pct(lat_send, 99)},
            "decisions": {"sent": len(dec), "acknowledged": len(acked), "in_database": count,
                          "lost": len(acked - stored), "unexpected": len(stored - sent_ids),
                          "acked_before_kill": len(before), "lost_across_kill": len(before - stored),
                          "killed": state["killed"], "restart_s": None if state["restart_s"] is None else round(state["restart_s"], 2),
                          "retried": retried, "errors": derr, "wall_s": round(dec_wall, 1),
                          "p50_ms_before_kill": pct(dlat, 50), "p99_ms_before_kill": pct(dlat, 99)},
        }
        res["ok"] = (errors == 0 and res["triage"]["p99_ms"] is not None and res["triage"]["p99_ms"] < 10
                     and count == len(acked) == len(dec) and not res["decisions"]["lost"] and derr == 0)
        print(json.dumps(res))
        return 0 if (count == len(acked) and not res["decisions"]["lost"]) else 1
    finally:
        srv.stop()
        if pg:
            pg.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
