"""The command line: a thin shell over the library. Each command calls one function."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from . import __version__

DEFAULT_WORKSPACE = "rr-workspace"


def _fail(msg: str, code: int = 2):
    """Print a message as errors, one line per problem, and exit."""
    for line in [ln for ln in str(msg).splitlines() if ln.strip()] or ["failed"]:
        # Policy problems arrive lint-style ("FILE: rule R: error: MESSAGE"); say "error" once.
        click.echo("error: " + re.sub(r"^(.*?): error: ", r"\1: ", line, count=1), err=True)
    sys.exit(code)


def _fail_without_password(exc: Exception, decisions_url: str | None):
    """One line for a failed command that was given a decision log: never its password."""
    if decisions_url:
        from .decisions.log import redact_text

        _fail(redact_text(str(exc), decisions_url))
    _fail(str(exc))


def _print_result(res, as_json: bool) -> None:
    """A result's JSON (``--json``) or its terminal summary."""
    click.echo(json.dumps(res.to_json_dict(), default=str) if as_json else res.summary_text())


class _Commands(click.Group):
    """The command group: any ``RightResponseError`` (a bad file, option, workspace...) that a
    command does not handle itself is printed one line per problem, without a traceback, and
    the command exits with code 2."""

    def invoke(self, ctx):
        from .errors import RightResponseError

        try:
            return super().invoke(ctx)
        except RightResponseError as exc:
            _fail(str(exc))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rightresponse")
def main():
    """rightresponse: who is best equipped to respond to each kind of 911 call?

    \b
    Start here:
      rightresponse assess                     # the main job, on the bundled real sample
      rightresponse assess my_exports/ --out report
      rightresponse ingest ../shared/data/cfs/decc_psap_2025 --workspace ws
      rightresponse triage --policy denver-star --call-type "welfare check"
      rightresponse serve --policy denver-star
      rightresponse evaluate --workspace ws --policy denver-star --pilot-start 2025-10-12
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--sample", is_flag=True, help="Ingest the bundled real sample (14 weekly DECC exports) instead of PATHS.")
@click.option("--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace directory (created if missing).")
@click.option("--adapter", "-a", help="Force an adapter (built-in name or path to a YAML file) instead of detecting it.")
@click.option("--agency", help="Agency id to store the calls under (default: the adapter's).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--memory-limit", help="DuckDB memory limit, e.g. 1GB (spills to disk beyond it); per job with --jobs.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files to ingest at once, in worker processes; same result as one at a time.")
def ingest(paths, sample, workspace, adapter, agency, as_json, memory_limit, jobs):
    """Load CAD exports into a workspace: normalized calls plus a quarantine.

    PATHS are files (CSV, TSV, Excel, JSON, Parquet, .gz, .zip) or directories.
    Every row is either loaded or quarantined with a reason, and per file
    rows read = loaded + quarantined + duplicates. Re-ingesting is harmless.

    \b
    Examples:
      rightresponse ingest --sample
      rightresponse ingest ../shared/data/cfs/decc_psap_2025 --workspace ws
      rightresponse ingest calls_2024.csv.gz --adapter new_orleans --workspace ws --json
      rightresponse ingest export.csv --adapter ./my_city.yaml --agency springfield
      rightresponse ingest exports/2015/ exports/2016/ --jobs 2 --workspace ws
    """
    if sample:
        from .samples import sample_paths

        paths = tuple(map(str, sample_paths())) + tuple(paths)
    if not paths:
        _fail("give one or more files or directories to ingest, or --sample for the bundled real sample")
    try:  # the import too: Ctrl-C at any moment gives the same one line
        from .ingest.pipeline import ingest as run, quarantine_examples

        summary = run(list(paths), workspace, adapter=adapter, agency=agency,
                      progress=not as_json and sys.stderr.isatty(), memory_limit=memory_limit, jobs=jobs)
    except KeyboardInterrupt:
        _fail(f"interrupted: nothing from this run was stored; {workspace} is as it was before it", 130)
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
        return
    click.echo(_format_summary(summary))
    examples = quarantine_examples(workspace) if summary.rows_quarantined else []
    if examples:
        click.echo("\nquarantined (first few; see the quarantine table for all):")
        for e in examples:
            col = f", column {e['column']}" if e["column"] else ""
            click.echo(f"  {e['file']} row {e['row']}{col}: {e['reason']}")


def _format_summary(summary) -> str:
    w = max([len(Path(f.path).name) for f in summary.files] + [4])
    lines = [f"{'file':<{w}}  {'adapter':<16} {'read':>9} {'loaded':>9} {'quarant.':>9} {'dupes':>9}"]
    for f in summary.files:
        lines.append(
            f"{Path(f.path).name:<{w}}  {f.adapter:<16} {f.rows_read:>9,} {f.rows_loaded:>9,} "
            f"{f.rows_quarantined:>9,} {f.rows_duplicate:>9,}"
        )
        for warn in f.warnings:
            lines.append(f"{'':<{w}}  warning: {warn}")
    lines.append(
        f"{'total':<{w}}  {'':<16} {summary.rows_read:>9,} {summary.rows_loaded:>9,} "
        f"{summary.rows_quarantined:>9,} {summary.rows_duplicate:>9,}"
    )
    for skipped in getattr(summary, "skipped", []):
        lines.append(f"skipped {skipped}")
    held = workspace_calls(summary.workspace)
    if not summary.calls_loaded and summary.rows_duplicate:
        again = (f"; the {summary.rows_quarantined:,} quarantined rows were quarantined again"
                 if summary.rows_quarantined else "")
        lines.append(f"\nnothing new: {held:,} calls already in the workspace {summary.workspace}{again}")
    elif not summary.calls_loaded:
        lines.append(f"\nno call stored: every row was quarantined or a duplicate; {held:,} calls in the workspace "
                     f"{summary.workspace}")
    else:
        lines.append(f"\n{summary.calls_loaded:,} calls stored in {summary.workspace}"
                     + (f" ({held:,} in the workspace now)" if held != summary.calls_loaded else ""))
    return "\n".join(lines)


def workspace_calls(workspace) -> int:
    """Calls the workspace holds (all runs), for the messages after an ingest."""
    from .ingest.workspace import Workspace

    ws = Workspace(workspace)
    if not ws.has("calls"):
        return 0
    import duckdb

    con = duckdb.connect()
    try:
        return int(con.execute("SELECT count(*) FROM read_parquet(?)", [ws.files("calls")]).fetchone()[0])
    finally:
        con.close()


@main.command()
@click.option("--calls", "-n", type=int, required=True, help="Distinct calls to write (duplicates come on top).")
@click.option("--out", "-o", type=click.Path(), required=True,
              help="Output file (.csv, .csv.gz or .parquet), or a new directory with --files / --file-calls.")
@click.option("--layout", default="new_orleans", show_default=True, help="Which real layout to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--start", default="2024-01-01", show_default=True, help="First day (local time of the layout's city).")
@click.option("--calls-per-day", type=float, default=1200.0, show_default=True, help="Volume; sets the span.")
@click.option("--clean", is_flag=True, help="No injected dirt (duplicates, cleared-before-arrival, over-24h rows).")
@click.option("--files", type=click.IntRange(min=1), help="Write OUT as a directory of this many part files.")
@click.option("--file-calls", type=click.IntRange(min=1), help="Write OUT as a directory of part files of this many calls.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "csv.gz"]),
              help="Part file format with --files / --file-calls (default parquet).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as one JSON object.")
def synth(calls, out, layout, seed, start, calls_per_day, clean, files, file_calls, fmt, as_json):
    """Write a synthetic CAD export, calibrated on the real samples, for benchmarks and scale tests.

    Call-type mix, hour-of-week cycle, priorities, officer-initiated share and service
    times per type come from the bundled real samples (synth_calibration.json). A little
    dirt is injected in exact, reported counts so ingest's quarantine and duplicate
    handling are exercised. Never present figures from it as a city's.

    \b
    Examples:
      rightresponse synth --calls 100000 --out synth.csv
      rightresponse synth --calls 2000000 --out big.csv.gz --seed 7 --json
      rightresponse ingest synth.csv --workspace ws-synth
      rightresponse synth --calls 1000000 --out big/ --files 4           # big/part-00000.parquet ...
      rightresponse synth --calls 100000 --out parts/ --file-calls 25000 --format csv.gz
      rightresponse ingest big/ --workspace ws-big

    The part files in order are the single file's rows for the same seed (a duplicate may
    fall in the file after its original), so both ingest to the same totals.
    """
    from .synthetic_cad import Dirt, generate

    if fmt and not (files or file_calls):
        _fail("--format is for part files: add --files or --file-calls")
    if files and file_calls:
        _fail("give --files or --file-calls, not both")
    try:
        res = generate(calls, out, layout=layout, seed=seed, start=start, calls_per_day=calls_per_day,
                       dirt=Dirt.none() if clean else None, progress=not as_json and sys.stderr.isatty(),
                       files=files, file_calls=file_calls, fmt=fmt or "parquet")
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(res.to_dict()))
        return
    where = f"{res.path} ({len(res.parts)} part files)" if res.parts else res.path
    click.echo(f"wrote {res.rows:,} rows ({res.calls:,} calls + {res.duplicates:,} duplicates) to {where} "
               f"in {res.seconds:.1f} s")
    click.echo(f"received {res.first_received} .. {res.last_received} (local); "
               f"{res.officer_initiated:,} officer-initiated; {res.time_issue_rows:,} with time issues")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def adapters(as_json):
    """List the built-in adapters and the columns that identify each layout.

    \b
    Example:
      rightresponse adapters
    """
    from .ingest.adapter import builtin_adapters

    ads = builtin_adapters()
    if as_json:
        click.echo(json.dumps([{"name": a.name, "title": a.title, "agency": a.agency, "timezone": a.timezone,
                                "detect": a.detect} for a in ads.values()]))
        return
    for a in ads.values():
        click.echo(f"{a.name:<18} {a.title}")
        click.echo(f"{'':<18} agency={a.agency} tz={a.timezone} detect: {', '.join(a.detect)}")


@main.command()
@click.argument("path", type=click.Path())
@click.option("--rows", default=2000, show_default=True, help="How many rows to sample.")
@click.option("--out", "-o", type=click.Path(), help="Write the draft adapter YAML here instead of stdout.")
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL the adapter compiles to for this file instead.")
@click.option("--adapter", "-a", help="With --sql: adapter name or YAML path (default: detected from the header).")
def inspect(path, rows, out, show_sql, adapter):
    """Show a file's columns and a draft adapter for a layout never seen before.

    The draft guesses the column mapping and timestamp formats; edit it, then
    ingest with --adapter ./draft.yaml. Example values are hidden for columns
    that look like addresses or narratives. With --sql, print the statements
    ingest would run to normalize the file (the compiler reads the file's
    distinct values, so this takes about as long as reading it).

    \b
    Example:
      rightresponse inspect new_city.csv -o new_city.yaml
      rightresponse ingest new_city.csv --adapter new_city.yaml --workspace ws
      rightresponse inspect new_city.csv --sql --adapter new_city.yaml
    """
    from .ingest.inspect import compiled_sql, inspect_file

    if show_sql:
        click.echo(";\n\n".join(compiled_sql(Path(path), adapter)) + ";")
        return
    if adapter:
        _fail("--adapter goes with --sql (inspect drafts a new adapter otherwise)")
    report = inspect_file(Path(path), sample_rows=rows)
    click.echo(report.describe())
    if out:
        Path(out).write_text(report.draft_yaml, encoding="utf-8")
        click.echo(f"\ndraft adapter written to {out}")
    else:
        click.echo("\n# ---- draft adapter (save as my_city.yaml and edit) ----")
        click.echo(report.draft_yaml)


# ---------------------------------------------------------------- assess


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--workspace", "-w", type=click.Path(file_okay=False),
              help="Reuse this workspace (alone), or ingest PATHS into it and keep it (default: a temporary one).")
@click.option("--out", "-o", default="rr-report", show_default=True, type=click.Path(file_okay=False),
              help="Directory for report.html, tables/ (CSV and Parquet) and analyst/.")
@click.option("--min-cell", default=10, show_default=True, type=click.IntRange(min=0),
              help="Counts below this are shown as '<N' in the report and the tables (0: exact figures).")
@click.option("--measure", default="deployed", show_default=True,
              type=click.Choice(["deployed", "on_scene", "unit_weighted"]),
              help="Officer-time measure: deployed (dispatched to cleared), on_scene (arrived to cleared), "
                   "unit_weighted (deployed x units).")
@click.option("--adapter", "-a", help="Force an adapter for PATHS (built-in name or YAML file) instead of detecting it.")
@click.option("--decisions", "decisions_url", metavar="URL",
              help="Triage decision log (sqlite:///decisions.db or postgresql://...) for a Dispatch practice section.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the terminal summary.")
@click.option("--engine", default="duckdb", show_default=True, type=click.Choice(["duckdb", "spark"]),
              help="Engine for the workload tables, classification join and policies (ingest stays on DuckDB). "
                   "spark: the active Spark session, else $RIGHTRESPONSE_SPARK_MASTER (a master URL or "
                   "sc://host:15002 for Spark Connect), else Spark local. Same tables and --json on both.")
@click.option("--overrides", type=click.Path(exists=True, dir_okay=False),
              help="The city's own call-type decisions (a CSV with agency, field, value, category, e.g. an edited "
                   "`crosswalk export`); they always win. Default: the workspace's (`crosswalk import`).")
@click.option("--exclude-category", "exclude_categories", multiple=True, metavar="CATEGORY",
              help="Leave this category out of every figure (e.g. Statuses). Repeatable; the report says what was "
                   "left out and the figures with it.")
@click.option("--exclude-call-type", "exclude_call_types", multiple=True, metavar="CALL_TYPE",
              help="Leave this call type (as recorded, any case) out of every figure (e.g. \"OFF DUTY DETAIL\"). "
                   "Repeatable.")
def assess(paths, workspace, out, min_cell, measure, adapter, decisions_url, as_json, engine, overrides,
           exclude_categories, exclude_call_types):
    """Assess calls for service: where officer time goes, as a report a council can read.

    Runs ingest, classify and the workload measures, then writes OUT/report.html (one
    self-contained file: no network, prints well) and every table as CSV and Parquet in
    OUT/tables. Block addresses (repeat locations) go to OUT/analyst only, never the report.

    With no PATHS and no --workspace it runs on the bundled real sample: 14 weekly
    exports of a consolidated 911 centre (DECC). They are the richest real exports
    bundled: all five timestamps (call start, dispatch, en route, arrival, close),
    unit counts and dispositions, so every time measure and response interval can
    be computed from the same calls.

    \b
    Examples:
      rightresponse assess                                   # bundled sample -> rr-report/report.html
      rightresponse assess ../shared/data/cfs/decc_psap_2025 --out decc-report
      rightresponse assess calls_2024.csv.gz --adapter new_orleans --workspace ws --out nola
      rightresponse assess --workspace ws --out nola --min-cell 0 --json
      rightresponse assess --workspace ws --decisions sqlite:///decisions.db
      rightresponse assess --workspace ws --engine spark --json  # needs pyspark and Java 17
      rightresponse assess --exclude-call-type "OFF DUTY DETAIL"   # leave non-service work out
      rightresponse crosswalk export --workspace ws -o review.csv  # then edit categories, and:
      rightresponse assess --workspace ws --overrides review.csv
    """
    from .assess import AssessError, AssessOptions, assess as run

    if workspace and not paths and not Path(workspace).is_dir():
        _fail(f"workspace {workspace} does not exist; give PATHS to ingest into it")
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        _fail(f"no such file or directory: {missing[0]}")
    try:
        options = AssessOptions(out=out, min_cell=min_cell, measure=measure, adapter=adapter, decisions=decisions_url,
                                progress=sys.stderr.isatty(), engine=engine, overrides=overrides,
                                exclude_categories=exclude_categories, exclude_call_types=exclude_call_types)
        res = run(paths=list(paths) or None, workspace=workspace, options=options)
    except AssessError as exc:
        _fail_without_password(exc, decisions_url)
    _print_result(res, as_json)



@main.command()
@click.option("--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True,
              type=click.Path(exists=True, file_okay=False), help="The ingested workspace to evaluate.")
@click.option("--policy", "-p", required=True, help="The policy the pilot ran (preset name or policy YAML file): "
                                                     "its conservative view decides which calls are eligible.")
@click.option("--pilot-start", required=True, metavar="DATE", help="First day of the pilot (local date, YYYY-MM-DD).")
@click.option("--pilot-end", metavar="DATE", help="Last day of the pilot (inclusive; default: the end of the data).")
@click.option("--area", "areas", multiple=True, metavar="DISTRICT",
              help="A district where the pilot ran. Repeatable; adds treated areas against the others (eligible "
                   "calls) as a second contrast.")
@click.option("--decisions", "decisions_url", metavar="URL",
              help="The triage decision log (sqlite:///decisions.db or postgresql://...): adherence, overrides by "
                   "reason and fallbacks during the pilot.")
@click.option("--out", "-o", default="rr-evaluation", show_default=True, type=click.Path(file_okay=False),
              help="Directory for report.html, tables/ and summary.json (and analyst/ with addresses, private).")
@click.option("--min-cell", default=10, show_default=True, type=click.IntRange(min=0),
              help="Counts below this are shown as '<N', and the figures resting on them withheld (0: exact).")
@click.option("--measure", default="deployed", show_default=True,
              type=click.Choice(["deployed", "on_scene", "unit_weighted"]), help="Officer-time measure (as assess).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the terminal summary.")
def evaluate(workspace, policy, pilot_start, pilot_end, areas, decisions_url, out, min_cell, measure, as_json):
    """Evaluate a pilot: eligible calls against comparable calls, before and after.

    The design of Dee and Pyne's STAR evaluation (Science Advances, 2022): the calls the
    policy moves from police (eligible) against the rest (comparison), before and after the
    pilot start, with a difference-in-differences estimate and its 95% interval, an event
    study by week, response times, outcomes, repeat calls to an address, and, with
    --decisions, what call-takers did. See docs/evaluation.md for what it cannot show.

    \b
    Examples:
      rightresponse ingest ../shared/data/cfs/decc_psap_2025 --workspace ws
      rightresponse evaluate --workspace ws --policy denver-star --pilot-start 2025-10-12 --json
      rightresponse evaluate -w ws -p denver-star --pilot-start 2025-10-12 --pilot-end 2025-11-22 --out eval
      rightresponse evaluate -w nola -p eugene-cahoots --pilot-start 2024-03-01 --area 1 --area 5
      rightresponse evaluate -w ws -p my_city.yaml --pilot-start 2025-10-12 --decisions sqlite:///decisions.db
    """
    from .evaluate import EvaluateError, evaluate as run

    try:
        res = run(workspace, policy, pilot_start, pilot_end, areas=areas, decisions=decisions_url, out=out,
                  min_cell=min_cell, measure=measure)
    except EvaluateError as exc:
        _fail_without_password(exc, decisions_url)
    _print_result(res, as_json)

# ---------------------------------------------------------------- classify


@main.command()
@click.argument("input_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("--agency", help="Agency whose crosswalk applies (default: the input's agency column, if any).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the result here (default: stdout).")
@click.option("--overrides", type=click.Path(exists=True, dir_okay=False), help="A city's override CSV (always wins).")
@click.option("--model", type=click.Path(dir_okay=False),
              help="A call-type model file to use if it matches the training data (else the shipped model is copied there).")
def classify(input_csv, agency, output, overrides, model):
    """Categorize call types: a CSV with a call_type column in, categories out.

    INPUT has a `call_type` column and optionally `agency` and `count`. The output
    adds `category` (one of the 22 Vera categories), `confidence` and `method`
    (override, crosswalk, rule, model, or needs_review: the classifier was not
    confident enough, the category is left empty for a person to decide). An
    agency with no crosswalk is classified by rules and the model alone. The
    model is built once into the user's cache on first use, then only loaded.

    \b
    Examples:
      rightresponse classify call_types.csv -o categorized.csv
      rightresponse classify call_types.csv --agency Unseen
    """
    import pandas as pd

    from .taxonomy import classify_table

    try:
        df = pd.read_csv(input_csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        _fail(f"{input_csv}: cannot read as CSV ({exc})")
    if "call_type" not in df.columns:
        _fail(f"{input_csv}: no 'call_type' column (columns: {', '.join(df.columns)})")
    out = classify_table(df, agency=agency, overrides=overrides, model_path=model)
    if output:
        out.to_csv(output, index=False)
        click.echo(f"{len(out):,} call types written to {output}", err=True)
    else:
        click.echo(out.to_csv(index=False), nl=False)


@main.group()
def crosswalk():
    """Review how a workspace's call types are categorized, and fix them.

    \b
    The loop that gets a city to 100%:
      rightresponse crosswalk export --workspace ws          # writes ws/call_type_review.csv
      (edit the category column of the rows you disagree with)
      rightresponse crosswalk import ws/call_type_review.csv --workspace ws
    """


@crosswalk.command("export")
@click.option("--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True, type=click.Path(exists=True, file_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Default: WORKSPACE/call_type_review.csv.")
def crosswalk_export(workspace, output):
    """Write every call type with category, confidence, method and call count.

    The call types the classifier left for review (method needs_review, empty
    category, its guess in `detail`) come first, heaviest first; then the rest,
    most calls times most uncertainty first.

    \b
    Example:
      rightresponse crosswalk export --workspace ws -o review.csv
    """
    from .taxonomy.review import export_review

    try:
        path, df = export_review(workspace, output)
    except FileNotFoundError as exc:
        _fail(str(exc))
    by_method = df.groupby("method")["calls"].sum().to_dict()
    click.echo(f"{len(df):,} call types ({int(df['calls'].sum()):,} calls) written to {path}")
    click.echo("calls by method: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_method.items())))


@crosswalk.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True, type=click.Path(exists=True, file_okay=False))
@click.option("--all", "all_rows", is_flag=True, help="Take every row as reviewed, not only the changed ones.")
def crosswalk_import(file, workspace, all_rows):
    """Apply an edited review CSV as the workspace's overrides (they always win).

    \b
    Example:
      rightresponse crosswalk import review.csv --workspace ws
    """
    from .taxonomy.review import import_review

    try:
        res = import_review(file, workspace, all_rows=all_rows)
    except FileNotFoundError as exc:
        _fail(str(exc))
    click.echo(f"{res.applied:,} overrides applied from {res.file} ({res.unchanged:,} rows unchanged); "
               f"{res.total_overrides:,} overrides in {res.overrides_path}")


# ---------------------------------------------------------------- policies and triage


@main.command()
@click.option("--policy", "-p", required=True, help="Preset name (see `rightresponse policy list`) or a policy YAML file.")
@click.option("--call-type", "-c", required=True, help="The call type, free text from any city.")
@click.option("--flag", "flags", multiple=True, help="A risk flag that is present (weapon, violence, ...); no_NAME if confirmed absent. Repeatable.")
@click.option("--priority", help="Priority as the city writes it.")
@click.option("--at", "at", help="When the call came in (ISO time, e.g. 2025-10-05T03:00:00; default now).")
@click.option("--model", type=click.Path(dir_okay=False), help="A call-type model file (default: the shipped model).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def triage(policy, call_type, flags, priority, at, model, as_json):
    """Who should respond to this call, why, and which questions to ask.

    The danger the call type states (ASSAULT IN PROG, SUBJ WITH GUN, DWI) is read first, and a
    weapon, violence, a crime in progress or suicide risk with means always gets police. A
    responder without police is recommended only once the screening questions are answered
    no (--flag no_weapon ...); until then the answer is "screen first": who to send if you
    cannot ask, and what it becomes once the screen is passed.

    \b
    Examples:
      rightresponse triage --policy denver-star --call-type "welfare check" --flag no_weapon --at 2025-10-05T14:00
      rightresponse triage -p eugene-cahoots -c "SUICIDAL PERSON" --flag weapon --json
      rightresponse triage -p denver-star -c "welfare check" --flag no_weapon --flag no_violence \\
          --flag no_crime_in_progress --flag no_suicide_risk_with_means --flag no_injury
    """
    from .policy import triage_args

    try:
        rec = triage_args(policy, call_type, flags=flags, priority=priority, at=at, model_path=model)
    except ValueError as exc:  # a flag or time that does not parse (a bad policy: the group's handler)
        _fail(str(exc))
    click.echo(json.dumps(rec.to_dict()) if as_json else rec.format())


@main.group()
def policy():
    """Responder policies as data: list, show, lint and compare them.

    \b
    Examples:
      rightresponse policy list
      rightresponse policy show denver-star
      rightresponse policy lint my_city_policy.yaml
      rightresponse policy diff status-quo denver-star --workspace ws
    """


@policy.command("list")
@click.option("--json", "as_json", is_flag=True)
def policy_list(as_json):
    """List the preset policies."""
    from .policy import preset_summaries

    rows = preset_summaries()
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(f"{r['id']:<20} {r['title']} ({r['rules']} rules)")


@policy.command("show")
@click.argument("name_or_file")
@click.option("--json", "as_json", is_flag=True)
def policy_show(name_or_file, as_json):
    """Print a policy's rules in order, with reasons, questions, each rule's screen and the
    safety floor that applies to every policy."""
    from .policy import load_policy

    pol = load_policy(name_or_file)
    click.echo(json.dumps(pol.to_dict()) if as_json else pol.to_text())


@policy.command("lint")
@click.argument("name_or_file")
@click.option("--json", "as_json", is_flag=True)
def policy_lint(name_or_file, as_json):
    """Check a policy: shadowed rules, uncovered categories, unknown responders, examples.

    Also lists each rule the safety floor overrides (it sends no officer even when a danger is
    yes), and runs every rule against the dangerous call types of the labelled sample cities
    with every flag combination: any that would get a responder without police is an error.
    Exits non-zero when there are errors.
    """
    from .policy import lint_policy

    rep = lint_policy(name_or_file)
    click.echo(json.dumps(rep.to_dict()) if as_json else rep.format())
    if not rep.ok:
        sys.exit(1)


@policy.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--workspace", "-w", type=click.Path(exists=True, file_okay=False), help="Weigh the changes by this workspace's calls and hours.")
@click.option("--json", "as_json", is_flag=True)
def policy_diff(a, b, workspace, as_json):
    """Which call types change responder from policy A to B, and what share of calls and hours moves."""
    from .policy import diff_policies

    try:
        d = diff_policies(a, b, calls=workspace)
    except FileNotFoundError as exc:
        _fail(str(exc))
    click.echo(json.dumps(d.to_dict()) if as_json else d.format())


# ---------------------------------------------------------------- scenarios and staffing


def _scenario_workspace_help():
    return ("Workspace with the calls (overrides the scenario's data.workspace). A scenario built on the bundled "
            "sample ingests it here if the workspace holds no calls; without it, into a temporary directory.")


@main.command()
@click.argument("scenario")
@click.option("--replications", "-r", type=int, help="Replications (default: the scenario's).")
@click.option("--seed", type=int, help="Random seed (default: the scenario's).")
@click.option("--workspace", "-w", type=click.Path(file_okay=False), help=_scenario_workspace_help())
@click.option("--report", type=click.Path(dir_okay=False), help="Also write the result as an HTML section here.")
@click.option("--min-cell", default=10, show_default=True, type=click.IntRange(min=0),
              help="Counts of calls below this (a team that gets a handful) are shown as '<N', and the figures "
                   "resting on them withheld (0: exact figures).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate(scenario, replications, seed, workspace, report, min_cell, as_json):
    """Simulate a scenario: officer hours freed, team use, waits, response times, cost.

    SCENARIO is a YAML file or the name of a shipped example (`rightresponse scenario list`).

    \b
    Examples:
      rightresponse simulate decc-co-responder-pilot --replications 10
      rightresponse simulate my_pilot.yaml --workspace ws --json
    """
    from .simulate import simulate as run

    try:
        res = run(scenario, replications=replications, seed=seed, workspace=workspace,
                  progress=not as_json and sys.stderr.isatty())
    except FileNotFoundError as exc:
        _fail(str(exc))
    if report:
        Path(report).write_text(res.html(min_cell=min_cell), encoding="utf-8")
    click.echo(json.dumps(res.to_dict(min_cell), default=str) if as_json else res.summary_text(min_cell))


@main.command()
@click.option("--arrivals-per-hour", type=float, required=True, help="Calls per hour (lambda).")
@click.option("--minutes-per-call", type=float, required=True, help="Mean service time per call, minutes (1/mu).")
@click.option("--target-minutes", type=float, required=True, help="Answer within this many minutes ...")
@click.option("--service-level", type=float, required=True, help="... for at least this share of calls (0-1).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def staffing(arrivals_per_hour, minutes_per_call, target_minutes, service_level, as_json):
    """Units needed to meet a service target, by Erlang C (M/M/c).

    `units` is the smallest number of units for which the probability that a call
    waits at most TARGET minutes is at least SERVICE-LEVEL.

    \b
    Example:
      rightresponse staffing --arrivals-per-hour 4 --minutes-per-call 45 --target-minutes 10 --service-level 0.9
    """
    from .simulate import staffing_dict

    try:
        res = staffing_dict(arrivals_per_hour, minutes_per_call, target_minutes, service_level)
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(f"units needed:      {res['units']}")
        click.echo(f"service level:     {res['service_level']:.1%} of calls wait <= {target_minutes:g} min")
        click.echo(f"utilization:       {res['utilization']:.1%}")
        click.echo(f"mean wait:         {res['mean_wait_minutes']:.2f} min")


@main.group()
def scenario():
    """Scenario files: list the shipped examples, compare a baseline with a pilot.

    \b
    Examples:
      rightresponse scenario list
      rightresponse scenario compare decc-status-quo decc-co-responder-pilot --out comparison
    """


@scenario.command("list")
def scenario_list():
    """List the example scenarios shipped with rightresponse."""
    from .simulate import list_scenarios

    for name in list_scenarios():
        click.echo(name)


@scenario.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--replications", "-r", type=int, help="Replications for both (default: A's).")
@click.option("--seed", type=int)
@click.option("--workspace", "-w", type=click.Path(file_okay=False), help=_scenario_workspace_help())
@click.option("--out", "-o", type=click.Path(file_okay=False), default="scenario-comparison", show_default=True,
              help="Directory for comparison.html and comparison.csv.")
@click.option("--min-cell", default=10, show_default=True, type=click.IntRange(min=0),
              help="Counts of calls below this are shown as '<N', and the figures resting on them withheld.")
@click.option("--json", "as_json", is_flag=True)
def scenario_compare(a, b, replications, seed, workspace, out, min_cell, as_json):
    """Baseline A and pilot B side by side: cost, hours freed, team size, response times.

    \b
    Example:
      rightresponse scenario compare decc-status-quo decc-co-responder-pilot -r 10 --out cmp
    """
    from .simulate import compare_scenarios

    try:
        cmp = compare_scenarios(a, b, replications=replications, seed=seed, workspace=workspace,
                                progress=not as_json and sys.stderr.isatty(), min_cell=min_cell)
    except FileNotFoundError as exc:
        _fail(str(exc))
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    cmp.to_csv(outdir / "comparison.csv")
    (outdir / "comparison.html").write_text(cmp.page(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(cmp.to_dict(), default=str))
    else:
        click.echo("\n".join(cmp.summary_lines()))
        click.echo(f"\nwritten: {outdir / 'comparison.html'}, {outdir / 'comparison.csv'}")



# ---------------------------------------------------------------- the call-taker console


@main.command()
@click.argument("kind", type=click.Choice(["adapter", "policy", "scenario"]))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the schema to this file instead of printing it.")
def schema(kind, output):
    """Print the JSON Schema of an adapter, policy or scenario file, for an editor to complete
    and check the YAML as it is typed (the same checks `rightresponse` runs on load).

    \b
    Examples:
      rightresponse schema adapter -o adapter.schema.json
      # then, first line of my_city.yaml (VS Code with the YAML extension):
      # yaml-language-server: $schema=./adapter.schema.json
      rightresponse schema policy | jq '.properties.rules'
    """
    from .validation import file_schema

    text = json.dumps(file_schema(kind), indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"{kind} schema written to {output}", err=True)
    else:
        click.echo(text)


@main.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--policy", "-p", "policies", multiple=True, metavar="NAME_OR_FILE",
              help="Preset name or policy YAML file. Repeat to serve several; the first is the default. [default: status-quo]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--db", "db_url", default="sqlite:///rr-decisions.db", show_default=True, metavar="URL",
              help="Decision log: sqlite:///FILE, a file path, or postgresql://USER@HOST/DB.")
@click.option("--workspace", "-w", type=click.Path(exists=True, file_okay=False),
              help="Offer the call types of this workspace's calls in the console, most frequent first.")
@click.option("--agency", help="Agency whose crosswalk categorizes calls and lists the console's call types.")
@click.option("--model", type=click.Path(dir_okay=False), help="A call-type model file (default: the shipped model, built once into the user cache).")
@click.option("--overrides", type=click.Path(exists=True, dir_okay=False), help="A city's category override CSV.")
@click.option("--store-narrative", is_flag=True, help="Also store free text (unlisted call types, narratives) in the log.")
@click.option("--rate", default=2000.0, show_default=True, type=click.FloatRange(min=0), help="Requests per second per client (token bucket; 0: no limit).")
@click.option("--burst", default=4000.0, show_default=True, type=click.FloatRange(min=1), help="Token-bucket burst size.")
@click.option("--max-body", default=64 * 1024, show_default=True, type=click.IntRange(min=1), help="Largest request body, bytes.")
@click.option("--reload-interval", default=2.0, show_default=True, type=click.FloatRange(min=0), help="Seconds between policy-file checks (0: never).")
@click.option("--read-access", type=click.Choice(["loopback", "open", "token"]), default="loopback", show_default=True,
              help="Who may triage and read without the token.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Answer requests for this host name too (besides localhost and IP addresses), e.g. the "
                   "machine's name on the network. Repeatable. Other names are refused (DNS rebinding).")
@click.option("--practice", "practice", type=click.Path(exists=True, file_okay=False), metavar="WORKSPACE",
              help="Add the practice page (/practice): trainees answer past calls of this workspace; answers go to "
                   "the decision log marked as practice.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def serve(policies, host, port, db_url, workspace, agency, model, overrides, store_narrative, rate, burst, max_body,
          reload_interval, read_access, allow_hosts, practice, log_level):
    """Serve the call-taker console, the triage API and the decision log.

    Open http://HOST:PORT/ for the console; the API is described at /openapi.json.
    Recording decisions needs the bearer token in RIGHTRESPONSE_API_TOKEN; without
    it the service triages but refuses writes. Policy files reload when they change.

    \b
    Examples:
      RIGHTRESPONSE_API_TOKEN=change-me rightresponse serve --policy denver-star --db sqlite:///decisions.db
      rightresponse serve --policy denver-star --policy status-quo --port 8080
      rightresponse serve --policy my_city.yaml --agency detroit --model classifier.pkl
      rightresponse serve -p denver-star --db postgresql://rr@localhost/rr
      rightresponse serve --host 0.0.0.0 --allow-host dispatch-pc.city.local --read-access token
      rightresponse serve -p denver-star --practice ws --db sqlite:///training.db   # then open /practice
    """
    from .service.server import serve as run

    try:
        run(list(policies) or ["status-quo"], host, port, db_url, workspace=workspace, agency=agency,
            model_path=model, overrides=overrides, store_narrative=store_narrative, rate=rate, burst=burst,
            max_body=max_body, reload_interval=reload_interval, read_access=read_access, log_level=log_level,
            allow_hosts=allow_hosts, practice=practice)
    except (ValueError, FileNotFoundError) as exc:  # set-up errors: PolicyError, StoreError, ServeError, TaxonomyError ...
        from .decisions.log import redact_text

        _fail(redact_text(str(exc), db_url))


@main.group()
def practice():
    """Practice mode for call-takers: `serve --practice WORKSPACE`, then `practice report`."""


@practice.command("report")
@click.option("--db", "db_url", required=True, metavar="URL",
              help="The decision log the practice answers went to: sqlite:///FILE, a file path, or postgresql://...")
@click.option("--out", "-o", default="rr-practice", show_default=True, type=click.Path(file_okay=False),
              help="Directory for practice.html and the tables as CSV.")
@click.option("--min-cell", default=10, show_default=True, type=click.IntRange(min=0),
              help="Counts below this are shown as '<N', and the figures resting on them withheld (0: exact).")
@click.option("--block", default=20, show_default=True, type=click.IntRange(min=1),
              help="Improvement over time: agreement per block of this many answers, per trainee.")
@click.option("--json", "as_json", is_flag=True, help="Print the published tables as one JSON object.")
def practice_report(db_url, out, min_cell, block, as_json):
    """Per trainee: calls answered, agreement with the policy by category, unsafe choices, and
    agreement over time (by blocks of answers). Only practice answers; small counts withheld.

    \b
    Examples:
      rightresponse practice report --db sqlite:///training.db --out practice
      rightresponse practice report --db postgresql://rr@localhost/rr --min-cell 5 --json
    """
    from .report.practice_report import write_practice_report
    from .decisions.practice_summary import summarize_practice
    from .decisions.log import StoreError, redact_text

    try:
        summary = summarize_practice(db_url, block=block)
    except (StoreError, ValueError) as exc:
        _fail(redact_text(str(exc), db_url))
    pub, paths = write_practice_report(summary, out, min_cell)
    if as_json:
        click.echo(json.dumps({name: d.records() for name, d in pub.tables.items()} | {"min_cell": min_cell}))
    else:
        from .report.html import cell_text

        tot = pub["practice_totals"]
        click.echo(f"practice answers: {cell_text(tot, 0, 'answered')} by {summary.trainees} trainee(s); "
                   f"unsafe choices: {cell_text(tot, 0, 'unsafe')}")
        click.echo("written: " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":  # pragma: no cover
    main()
