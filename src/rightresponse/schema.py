"""The normalized call record, defined once.

Every other module (ingest, workload, policy, reports) reads column names and types
from here, so a field is renamed or added in exactly one place.

Sensitive fields (block-level location, coordinates, narrative) live in a separate
table keyed by ``(agency, call_id)``: the analysis table can be shared, printed or
aggregated without ever carrying an address or a narrative.
"""

from __future__ import annotations

from dataclasses import dataclass

ORIGINS = (
    "911",
    "non_emergency_phone",
    "alarm",
    "officer_initiated",
    "text",
    "walk_in",
    "online",  # a web form or an app (311 self-service)
    "other",
    "unknown",
)

OUTCOMES = (
    "arrest",
    "report",
    "no_action",
    "unfounded",  # unfounded or gone on arrival
    "cancelled",
    "other",
)

SERVICES = ("police", "fire", "ems", "other")

# The intake system a record comes from. ``cad``: a computer-aided-dispatch export (calls
# for service: 911, ten-digit non-emergency lines, alarms and officer-initiated events all
# mixed, told apart by ``origin``). ``311``: a city's service-request system (requests
# routed to city agencies, a few of them to the police). Not "911" for CAD: a CAD export is
# not only 911 calls, and ``origin`` already says which were.
CHANNELS = ("cad", "311")
CHANNEL_311 = "311"
DEFAULT_CHANNEL = "cad"  # what a record stored before channels existed was: every adapter then was CAD

TIMESTAMP_FIELDS = ("received", "dispatched", "enroute", "arrived", "cleared")


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str  # DuckDB type
    doc: str


CALL_FIELDS: tuple[Field, ...] = (
    Field("agency", "VARCHAR", "Agency id (adapter default or --agency). Partition key."),
    Field("call_id", "VARCHAR", "The source's incident number; unique per agency."),
    Field("source_file", "VARCHAR", "Name of the file the row came from (lineage)."),
    Field("source_row", "BIGINT", "1-based data-record number in that file (header excluded)."),
    Field("service", "VARCHAR", "Discipline that handled the call: police, fire, ems, other."),
    Field("channel", "VARCHAR", "Intake system: " + ", ".join(CHANNELS) + " (adapter's `channel`; "
          f"{DEFAULT_CHANNEL!r} when a workspace predates the field)."),
    Field("timezone", "VARCHAR", "IANA zone of the agency, used to read local wall-clock times."),
    Field("received", "TIMESTAMPTZ", "Call received / created."),
    Field("dispatched", "TIMESTAMPTZ", "First unit dispatched."),
    Field("enroute", "TIMESTAMPTZ", "First unit en route."),
    Field("arrived", "TIMESTAMPTZ", "First unit on scene."),
    Field("cleared", "TIMESTAMPTZ", "Last unit cleared / call closed."),
    Field("received_local", "TIMESTAMP", "`received` as local wall-clock time (hour-of-week analysis)."),
    Field("call_type_code", "VARCHAR", "Final call-type code, where the source has codes."),
    Field("call_type", "VARCHAR", "Final call-type description (or code when no description exists)."),
    Field("initial_call_type_code", "VARCHAR", "Initial call-type code."),
    Field("initial_call_type", "VARCHAR", "Initial call-type description."),
    Field("priority_raw", "VARCHAR", "Priority as the source wrote it."),
    Field("priority_rank", "SMALLINT", "Normalized priority: 1 is most urgent."),
    Field("origin_raw", "VARCHAR", "Origin / call source as the source wrote it."),
    Field("origin", "VARCHAR", "One of: " + ", ".join(ORIGINS) + "."),
    Field("disposition_raw", "VARCHAR", "Disposition as the source wrote it."),
    Field("outcome", "VARCHAR", "Outcome class: " + ", ".join(OUTCOMES) + "."),
    Field("units_assigned", "INTEGER", "Number of units assigned, where known."),
    Field("district", "VARCHAR", "Police district / precinct / division."),
    Field("beat", "VARCHAR", "Beat / sector / zone."),
    Field("time_issue", "VARCHAR", "Why time fields are unusable for time measures (NULL = usable)."),
    Field("year", "INTEGER", "Local year of `received`. Partition key."),
)

SENSITIVE_FIELDS: tuple[Field, ...] = (
    Field("agency", "VARCHAR", "Agency id."),
    Field("call_id", "VARCHAR", "Incident number."),
    Field("year", "INTEGER", "Local year of `received`. Partition key."),
    Field("location", "VARCHAR", "Block-level address or intersection. Sensitive."),
    Field("latitude", "DOUBLE", "Latitude, as published (often blurred). Sensitive."),
    Field("longitude", "DOUBLE", "Longitude, as published. Sensitive."),
    Field("narrative", "VARCHAR", "Free-text call-taker comments. Sensitive."),
)

UNIT_FIELDS: tuple[Field, ...] = (
    Field("agency", "VARCHAR", "Agency id."),
    Field("call_id", "VARCHAR", "Incident number the unit responded to."),
    Field("unit_id", "VARCHAR", "Unit call sign."),
    Field("source_file", "VARCHAR", "Lineage: file."),
    Field("source_row", "BIGINT", "Lineage: 1-based data-record number."),
    Field("unit_status", "VARCHAR", "Unit status at export time, where given."),
    Field("year", "INTEGER", "Local year of the incident. Partition key."),
)

QUARANTINE_FIELDS: tuple[Field, ...] = (
    Field("source_file", "VARCHAR", "File the record came from."),
    Field("source_sha256", "VARCHAR", "Content hash of that file."),
    Field("source_row", "BIGINT", "1-based data-record number."),
    Field("reason", "VARCHAR", "Machine-readable reason code."),
    Field("column_name", "VARCHAR", "Source column at fault, where one is."),
    Field("message", "VARCHAR", "Human-readable explanation."),
    Field("record", "VARCHAR", "The raw record as JSON (or raw text when it could not be split)."),
)

QUARANTINE_REASONS = {
    "malformed_record": "the record has the wrong number of fields (shifted or broken columns)",
    "missing_call_id": "no incident number, so the call cannot be de-duplicated",
    "missing_received": "no received/created time, so the call cannot be placed in time",
    "unparseable_timestamp": "a timestamp is present but matches none of the adapter's formats",
    "unparseable_number": "a numeric field (duration, epoch, count) is not a number",
    "excluded_by_adapter": "the adapter marks this kind of row as not a call (e.g. test calls)",
}

TIME_ISSUES = {
    "dispatched_before_received": "dispatched earlier than received",
    "arrived_before_dispatched": "arrived earlier than dispatched",
    "cleared_before_arrival": "cleared earlier than arrival",
    "negative_duration": "cleared earlier than received or dispatched",
    "over_24h": "more than 24 hours from received to cleared",
}

# Calls longer than this are kept but excluded from time measures.
MAX_CALL_HOURS = 24


def field_names(fields: tuple[Field, ...] = CALL_FIELDS) -> list[str]:
    return [f.name for f in fields]

