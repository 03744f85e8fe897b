"""The command line: a thin shell over the library. Each command calls one function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__

DEFAULT_WORKSPACE = "rr-workspace"


def _fail(msg: str, code: int = 2):
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rightresponse")
def main():
    """rightresponse: who is best equipped to respond to each kind of 911 call?

    \b
    Start here:
      rightresponse ingest ../shared/data/cfs/decc_psap_2025 --workspace ws
      rightresponse adapters
      rightresponse inspect my_export.csv
    """


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--sample", is_flag=True, help="Ingest the bundled real sample (14 weekly DECC exports) instead of PATHS.")
@click.option("--workspace", "-w", default=DEFAULT_WORKSPACE, show_default=True, help="Workspace directory (created if missing).")
@click.option("--adapter", "-a", help="Force an adapter (built-in name or path to a YAML file) instead of detecting it.")
@click.option("--agency", help="Agency id to store the calls under (default: the adapter's).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--memory-limit", help="DuckDB memory limit, e.g. 1GB (spills to disk beyond it).")
def ingest(paths, sample, workspace, adapter, agency, as_json, memory_limit):
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
    """
    from .ingest.pipeline import IngestError, ingest as run, quarantine_examples
    from .samples import sample_paths

    if sample:
        paths = tuple(map(str, sample_paths())) + tuple(paths)
    if not paths:
        _fail("give one or more files or directories to ingest, or --sample for the bundled real sample")
    try:
        summary = run(list(paths), workspace, adapter=adapter, agency=agency,
                      progress=not as_json and sys.stderr.isatty(), memory_limit=memory_limit)
    except IngestError as exc:
        _fail(str(exc))
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
    lines.append(f"\n{summary.calls_loaded:,} calls stored in {summary.workspace}")
    return "\n".join(lines)


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
def inspect(path, rows, out):
    """Show a file's columns and a draft adapter for a layout never seen before.

    The draft guesses the column mapping and timestamp formats; edit it, then
    ingest with --adapter ./draft.yaml. Example values are hidden for columns
    that look like addresses or narratives.

    \b
    Example:
      rightresponse inspect new_city.csv -o new_city.yaml
      rightresponse ingest new_city.csv --adapter new_city.yaml --workspace ws
    """
    from .ingest.inspect import inspect_file
    from .ingest.pipeline import IngestError

    try:
        report = inspect_file(Path(path), sample_rows=rows)
    except IngestError as exc:
        _fail(str(exc))
    click.echo(report.describe())
    if out:
        Path(out).write_text(report.draft_yaml, encoding="utf-8")
        click.echo(f"\ndraft adapter written to {out}")
    else:
        click.echo("\n# ---- draft adapter (save as my_city.yaml and edit) ----")
        click.echo(report.draft_yaml)


# ---------------------------------------------------------------- classify


@main.command()
@click.argument("input_csv", type=click.Path(exists=True, dir_okay=False))
@click.option("--agency", help="Agency whose crosswalk applies (default: the input's agency column, if any).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the result here (default: stdout).")
@click.option("--overrides", type=click.Path(exists=True, dir_okay=False), help="A city's override CSV (always wins).")
@click.option("--model", type=click.Path(dir_okay=False), help="Saved classifier: loaded if present, else trained once and saved here.")
def classify(input_csv, agency, output, overrides, model):
    """Categorize call types: a CSV with a call_type column in, categories out.

    INPUT has a `call_type` column and optionally `agency` and `count`. The output
    adds `category` (one of the 22 Vera categories), `confidence` and `method`
    (override, crosswalk, rule or model). An agency with no crosswalk is
    classified by rules and the model alone.

    \b
    Examples:
      rightresponse classify call_types.csv -o categorized.csv
      rightresponse classify call_types.csv --agency dallas --model classifier.pkl
    """
    import pandas as pd

    from .taxonomy import TaxonomyError, classify_table

    try:
        df = pd.read_csv(input_csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        _fail(f"{input_csv}: cannot read as CSV ({exc})")
    if "call_type" not in df.columns:
        _fail(f"{input_csv}: no 'call_type' column (columns: {', '.join(df.columns)})")
    try:
        out = classify_table(df, agency=agency, overrides=overrides, model_path=model)
    except TaxonomyError as exc:
        _fail(str(exc))
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

    Sorted so that the most calls times the most uncertainty come first.

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
    from .taxonomy import TaxonomyError
    from .taxonomy.review import import_review

    try:
        res = import_review(file, workspace, all_rows=all_rows)
    except (TaxonomyError, FileNotFoundError) as exc:
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
@click.option("--model", type=click.Path(dir_okay=False), help="Saved classifier (trained once and saved here if absent).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def triage(policy, call_type, flags, priority, at, model, as_json):
    """Who should respond to this call, why, and which questions to ask.

    \b
    Examples:
      rightresponse triage --policy denver-star --call-type "welfare check" --flag no_weapon --at 2025-10-05T14:00
      rightresponse triage -p eugene-cahoots -c "SUICIDAL PERSON" --flag weapon --json
    """
    from .policy import PolicyError, triage_args

    try:
        rec = triage_args(policy, call_type, flags=flags, priority=priority, at=at, model_path=model)
    except (PolicyError, ValueError) as exc:
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
    """Print a policy's rules in order, with reasons and questions."""
    from .policy import PolicyError, load_policy

    try:
        pol = load_policy(name_or_file)
    except PolicyError as exc:
        _fail(str(exc))
    click.echo(json.dumps(pol.to_dict()) if as_json else pol.to_text())


@policy.command("lint")
@click.argument("name_or_file")
@click.option("--json", "as_json", is_flag=True)
def policy_lint(name_or_file, as_json):
    """Check a policy: shadowed rules, uncovered categories, unknown responders, examples.

    Exits non-zero when there are errors.
    """
    from .policy import PolicyError, lint_policy

    try:
        rep = lint_policy(name_or_file)
    except PolicyError as exc:
        _fail(str(exc))
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
    from .policy import PolicyError, diff_policies

    try:
        d = diff_policies(a, b, calls=workspace)
    except (PolicyError, FileNotFoundError) as exc:
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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def simulate(scenario, replications, seed, workspace, report, as_json):
    """Simulate a scenario: officer hours freed, team use, waits, response times, cost.

    SCENARIO is a YAML file or the name of a shipped example (`rightresponse scenario list`).

    \b
    Examples:
      rightresponse simulate decc-co-responder-pilot --replications 10
      rightresponse simulate my_pilot.yaml --workspace ws --json
    """
    from .simulate import DataError, ScenarioError, simulate as run

    try:
        res = run(scenario, replications=replications, seed=seed, workspace=workspace,
                  progress=not as_json and sys.stderr.isatty())
    except (ScenarioError, DataError, FileNotFoundError) as exc:
        _fail(str(exc))
    if report:
        Path(report).write_text(res.html(), encoding="utf-8")
    click.echo(json.dumps(res.to_dict(), default=str) if as_json else res.summary_text())


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
@click.option("--json", "as_json", is_flag=True)
def scenario_compare(a, b, replications, seed, workspace, out, as_json):
    """Baseline A and pilot B side by side: cost, hours freed, team size, response times.

    \b
    Example:
      rightresponse scenario compare decc-status-quo decc-co-responder-pilot -r 10 --out cmp
    """
    from .simulate import DataError, ScenarioError, compare_scenarios

    try:
        cmp = compare_scenarios(a, b, replications=replications, seed=seed, workspace=workspace,
                                progress=not as_json and sys.stderr.isatty())
    except (ScenarioError, DataError, FileNotFoundError) as exc:
        _fail(str(exc))
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    cmp.to_csv(outdir / "comparison.csv")
    (outdir / "comparison.html").write_text(cmp.html(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(cmp.to_dict(), default=str))
    else:
        click.echo("\n".join(cmp.summary_lines()))
        click.echo(f"\nwritten: {outdir / 'comparison.html'}, {outdir / 'comparison.csv'}")


if __name__ == "__main__":  # pragma: no cover
    main()
