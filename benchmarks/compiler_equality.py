"""The ingest compiler of this tree against an earlier commit's: the same tables, row for row.

    python benchmarks/compiler_equality.py --base 46dc9e5 [--new HEAD] [--calls 2000000] [--samples DIR]

The earlier commit's source is exported with ``git archive`` into a temporary folder (it is
never copied into ``src/``). Every input (each real sample folder under ``--samples``, and a
synthetic export of ``--calls`` calls made by ``rightresponse.synthetic_cad``) is ingested twice, each
time in a fresh Python process: once with that source first on ``PYTHONPATH``, once with this
tree. Every table of the two workspaces (calls, sensitive, units, quarantine; all columns,
the partition columns included) is then compared both ways with ``EXCEPT ALL``, so a row
missing, added or repeated on either side counts. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("calls", "sensitive", "units", "quarantine")


def export_source(ref: str, into: Path) -> Path:
    """``ref``'s tree, extracted from ``git archive`` into ``into``; its ``src`` folder."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "tree.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    archive.unlink()
    return into / "tree" / "src"


def ingest(src: Path, inputs: list[str], workspace: Path) -> float:
    """Ingest ``inputs`` into ``workspace`` with the package under ``src``; seconds taken."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = ("import sys, rightresponse as rr; assert rr.__file__.startswith(sys.argv[1]), rr.__file__; "
            "rr.ingest(sys.argv[3:], workspace=sys.argv[2])")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(src), str(workspace), *inputs], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def compare(old: Path, new: Path) -> list[dict]:
    """Per table: rows on each side and rows of each side missing from the other."""
    from rightresponse.ingest.workspace import Workspace
    from rightresponse.sqltext import ident, literal

    con = duckdb.connect()
    out = []
    for table in TABLES:
        files = {side: Workspace(ws).files(table) for side, ws in (("old", old), ("new", new))}
        if not files["old"] and not files["new"]:
            continue
        for side, fs in sorted(files.items(), key=lambda kv: not kv[1]):  # an empty side copies the other's columns
            if not fs:
                con.execute(f"CREATE OR REPLACE VIEW {side} AS SELECT * FROM new WHERE false" if side == "old"
                            else "CREATE OR REPLACE VIEW new AS SELECT * FROM old WHERE false")
                continue
            listed = "[" + ", ".join(literal(f) for f in fs) + "]"
            con.execute(f"CREATE OR REPLACE VIEW {side} AS SELECT * FROM read_parquet({listed}, "
                        f"hive_partitioning=true, union_by_name=true)")
        cols = sorted(r[0] for r in con.execute("DESCRIBE old").fetchall())
        new_cols = sorted(r[0] for r in con.execute("DESCRIBE new").fetchall())
        if cols != new_cols:
            raise SystemExit(f"{table}: columns differ: {cols} vs {new_cols}")
        sel = ", ".join(map(ident, cols))
        n_old, n_new = (con.execute(f"SELECT count(*) FROM {s}").fetchone()[0] for s in ("old", "new"))
        only_old = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM old EXCEPT ALL SELECT {sel} FROM new)").fetchone()[0]
        only_new = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM new EXCEPT ALL SELECT {sel} FROM old)").fetchone()[0]
        out.append({"table": table, "columns": len(cols), "rows_old": n_old, "rows_new": n_new,
                    "old_except_new": only_old, "new_except_old": only_new})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="git commit holding the old compiler")
    ap.add_argument("--new", help="git commit holding the new one (default: this working tree)")
    ap.add_argument("--samples", default=str(ROOT.parent / "shared" / "data" / "cfs"),
                    help="folder of sample folders, each ingested into a workspace of its own")
    ap.add_argument("--calls", type=int, default=2_000_000, help="synthetic calls (0: none)")
    ap.add_argument("--dir", help="work folder (default: a temporary one, removed after)")
    args = ap.parse_args(argv)

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rr-compiler-eq-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        old_src = export_source(args.base, work / "old_tree")
        new_src = export_source(args.new, work / "new_tree") if args.new else ROOT / "src"
        inputs = {p.name: [str(p)] for p in sorted(Path(args.samples).iterdir()) if p.is_dir()}
        if args.calls:
            from rightresponse.synthetic_cad import generate

            synthetic = work / f"synthetic_{args.calls}.csv"
            generate(args.calls, synthetic, seed=0)
            inputs[synthetic.name] = [str(synthetic)]
        results, failed = [], False
        print(f"{'input':<28} {'table':<11} {'rows old':>10} {'rows new':>10} {'old-new':>8} {'new-old':>8}")
        for name, paths in inputs.items():
            secs = {}
            for side, src in (("old", old_src), ("new", new_src)):
                shutil.rmtree(work / side, ignore_errors=True)
                secs[side] = ingest(src, paths, work / side)
            for row in compare(work / "old", work / "new"):
                row = {"input": name, **row}
                results.append(row)
                failed |= bool(row["old_except_new"] or row["new_except_old"] or row["rows_old"] != row["rows_new"])
                print(f"{name:<28} {row['table']:<11} {row['rows_old']:>10,} {row['rows_new']:>10,} "
                      f"{row['old_except_new']:>8} {row['new_except_old']:>8}")
            print(f"{'':<28} (ingest seconds: old {secs['old']:.1f}, new {secs['new']:.1f})")
        print(json.dumps({"benchmark": "compiler_equality", "base": args.base, "new": args.new or "working tree", "inputs": len(inputs),
                          "tables_compared": len(results), "rows_compared": sum(r["rows_new"] for r in results),
                          "differences": sum(r["old_except_new"] + r["new_except_old"] for r in results),
                          "equal": not failed}))
        return 1 if failed else 0
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
