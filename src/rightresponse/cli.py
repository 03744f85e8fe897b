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


if __name__ == "__main__":  # pragma: no cover
    main()
