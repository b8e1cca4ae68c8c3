"""`marketing profiles import` and `marketing events publish` (SPEC 4.6): files into the target stack.

Files are streamed (one batch in memory at a time) with a progress bar. Every bad line is skipped,
named with its line number and counted in the exit code: a file is never half-imported silently.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from marketing.data import CONTACT_POLICY, TAGS, packaged
from marketing_tools.files import EventRecord, HeaderError, ProfileFile, Row, count_lines, event_rows, tag_types
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import console, err, state_dir

profiles_app = typer.Typer(no_args_is_help=True, help="Customer profiles (SPEC 4.2) in the profiles table.")
events_app = typer.Typer(no_args_is_help=True, help="Customer events (SPEC 4.1) on the customer-events stream.")

INVALID, UNREACHABLE = 1, 3
PUT_RECORDS_LIMIT = 500
PUT_RECORDS_BYTES = 5 * 1024 * 1024 - 64 * 1024  # PutRecords takes 5 MiB per call; a margin for the keys
SHOW_IDS = 50  # unaccounted event ids listed after a --wait timeout

_sleep = time.sleep  # tests drive a pipeline while the command waits


def _progress() -> Progress:

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def _report_skipped(file: Path, skipped: list[tuple[int, str]], what: str) -> None:

    if not skipped:
        return
    err.print(f"[red]✗ {len(skipped)} {what} of {file} skipped:[/]")
    for line, reason in skipped:
        err.print(f"  line {line}: {reason}", markup=False, highlight=False)


def _unreachable(target: Any, exc: Exception, done: str) -> typer.Exit:

    err.print(f"[red]the target stack {target.name!r} is unreachable or refused the write:[/] {exc}", highlight=False)
    err.print(done, markup=False, highlight=False)
    return typer.Exit(UNREACHABLE)


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


# ------------------------------------------------------------------ profiles import

PROFILE_FORMAT = """\
Import customer profiles (SPEC 4.2) into the profiles table, in batches, with a progress bar.

FILE is JSON lines (one profile object per line; .jsonl, .ndjson or .json) or CSV (.csv); another
extension is read as JSON lines when its first line starts with "{", else as CSV.

CSV: a header row names the columns, each optional except customer_id:

  customer_id, status, name, msisdn, email, timezone, locale - text;

  consents.marketing, consents.sms, consents.email, consents.app_push, consents.dnd - true/false
  (also yes/no, 1/0), or one `consents` column holding a JSON object;

  channel_preference - channels separated by commas or semicolons, e.g. "sms;app_push";

  tags.NAME - one column per tag, typed by the tag dictionary (events/tags.yaml, or TAGS_PATH) when it
  declares NAME; otherwise true/false become booleans, numbers become numbers (leading zeros stay
  text), "[...]" is a JSON list and anything else is text. A cell holding a JSON string ("007") is
  always text. A `tags` column may hold a JSON object; tags.NAME columns override its entries.

A row is merged into the stored profile: the fields it names replace the stored ones, its tags and
usage months are added to the stored ones, and anything it does not name stays (a new customer's
profile starts from the defaults: consents false, timezone UTC, locale zh-CN). Consents follow the
contact policy's `consents` rules: a withdrawal by the customer (reply keyword, unsubscribe link,
care) is never turned back on by an import, and such a kept consent is named with its line. An
unknown column refuses the whole file before anything is written.

Every row is validated. A bad row is skipped and reported with its line number and every reason;
the others are imported. Exit 0 when every row was imported, 1 when any was skipped (or the
header is unusable), 3 when the stack is unreachable.
"""


@dataclass
class _ProfileBatches:
    """Rows waiting for one merge (a read and a conditional write per 100); a customer repeated in the
    file is written in file order."""

    store: Any
    size: int
    merge: Any = None   # (stored, row) -> (merged, notes): domain.consents.merge_import at the import's time
    pending: dict[str, tuple[int, Any]] = field(default_factory=dict)
    imported: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    kept: list[tuple[int, str]] = field(default_factory=list)   # consents the customer's own change kept

    def add(self, line: int, profile: Any) -> None:
        # one request may not name a key twice: the earlier row goes first, so the later one wins
        if profile.customer_id in self.pending or len(self.pending) >= self.size:
            self.flush()
        self.pending[profile.customer_id] = (line, profile)

    def flush(self) -> None:
        if not self.pending:
            return
        rows = list(self.pending.values())
        lines = {profile.customer_id: line for line, profile in rows}
        notes: dict[str, list[str]] = {}

        def merge(stored: Any, row: Any) -> Any:
            merged, notes[row.customer_id] = self.merge(stored, row)  # the last attempt's notes count
            return merged

        try:
            self.store.merge_profiles([profile for _, profile in rows], merge)
        except RuntimeError:  # still unprocessed after the store's retries (throttled)
            self.skipped += [(line, "not written: DynamoDB left it unprocessed after retries") for line, _ in rows]
        else:
            self.imported += len(rows)
            self.kept += [(lines[cid], note) for cid, kept in notes.items() for note in kept]
        self.pending.clear()

    def first_pending_line(self) -> int | None:
        return min((line for line, _ in self.pending.values()), default=None)


@profiles_app.command("import", help=PROFILE_FORMAT)
def profiles_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JSON lines or CSV"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
    batch_size: int = typer.Option(100, "--batch-size", min=1, max=100,
                                    help="profiles per read and conditional write (BatchGetItem, TransactWriteItems)"),
    as_of: Optional[datetime] = typer.Option(None, "--as-of", help="when the file's data was taken (ISO-8601; "
                                             "default now): its consents count as changed then"),
) -> None:
    from marketing.adapters.aws import DynamoPolicyStore, DynamoProfileStore
    from marketing.domain.consents import merge_import
    from marketing.domain.contact_policy import ContactPolicy

    reader = ProfileFile(file, tag_types(Path(os.environ.get("TAGS_PATH") or packaged(TAGS))))
    rows = reader.rows()
    try:
        first = next(rows, None)  # a CSV header is checked here, before the stack is touched
    except HeaderError as exc:
        err.print(f"[red]✗ {file}: nothing imported, the header is unusable:[/]")
        for error in exc.errors:
            err.print(f"  {error}", markup=False, highlight=False)
        raise typer.Exit(INVALID) from None
    target = targets.resolve_target(stack)
    table = target.env["PROFILES_TABLE"]
    at = (as_of or datetime.now(timezone.utc))
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    ddb = target.client("dynamodb")
    try:  # the policy in force: the operator's live copy, else the shipped file
        document = DynamoPolicyStore(ddb, target.env["SETTINGS_TABLE"]).get_policy() if "SETTINGS_TABLE" in target.env else None
    except _aws_errors() as exc:
        raise _unreachable(target, exc, "nothing imported") from None
    policy = ContactPolicy.model_validate(document) if document else ContactPolicy.from_file(packaged(CONTACT_POLICY))
    batches = _ProfileBatches(DynamoProfileStore(ddb, table), batch_size,
                              lambda stored, row: merge_import(stored, row, at, policy.consents))
    total = count_lines(file) - (1 if reader.is_csv else 0)
    with _progress() as progress:
        description = f"importing profiles into {table}"
        task = progress.add_task(description, total=max(total, 0))
        try:
            for row in _chain(first, rows):
                if row.error:
                    batches.skipped.append((row.line, row.error))
                    progress.update(task, description=f"{description} ({len(batches.skipped):,} skipped)")
                else:
                    batches.add(row.line, row.value)
                progress.update(task, completed=row.end_line - (1 if reader.is_csv else 0))
            batches.flush()
            progress.update(task, completed=max(total, 0))
        except _aws_errors() as exc:
            line = batches.first_pending_line()
            raise _unreachable(target, exc, f"imported {batches.imported:,} profile(s) before it; "
                                            f"the rows from line {line} on were not imported") from None
    for field_name, line in sorted(reader.ignored.items()):
        err.print(f"[yellow]warning:[/] {field_name!r} is not a profile field and was ignored (first on line {line})",
                  highlight=False)
    console.print(f"imported {batches.imported:,} profile(s) into {table}, skipped {len(batches.skipped):,}",
                  highlight=False)
    for line, note in sorted(batches.kept):
        err.print(f"[yellow]line {line}:[/] {note}", highlight=False)
    _report_skipped(file, sorted(batches.skipped), "row(s)")
    if batches.skipped:
        raise typer.Exit(INVALID)


def _chain(first: Row | None, rest: Iterable[Row]) -> Iterable[Row]:
    if first is not None:
        yield first
        yield from rest


# ------------------------------------------------------------------ events publish

PUBLISH_HELP = """\
Publish customer events (SPEC 4.1), one JSON object per line, to the customer-events stream.

Records go out as they are, in PutRecords batches of up to 500, partition key = customer_id. Only
what publishing needs is checked: a line that is not a JSON object with a non-empty event_id and
customer_id is skipped and reported with its line number; the rest are published. Everything
else (unknown types, bad attributes, stale timestamps) is the pipeline's to judge: enrich
dead-letters such records, as it does for any upstream.

--wait: after publishing, wait until every published event has been processed: an event is done
when the decision log has a record for it, or - on the local stack - when the pipeline has gone
idle after taking it (events no campaign considered, and events dead-lettered, have no decision
record). A deployed stack gives no idle signal, and its decision log arrives through Firehose's
buffer: events without a decision record count as unaccounted until --timeout passes, when the
command lists them and stops waiting (still exit 0).

Exit 0 when every line was published, 1 when any was skipped or not accepted by Kinesis,
3 when the stack is unreachable.
"""


REPLAY_SOURCES = {"enrich-failures": "ENRICH_FAILURES_URL", "decide-failures": "DECIDE_FAILURES_URL",
                  "events-dlq": "EVENTS_DLQ_URL"}

REPLAY_HELP = """Put what a dead-letter queue holds back on its stream (the README's Runbook).

--from enrich-failures | decide-failures: each Kinesis on-failure pointer's records are read back
from their stream (while its retention keeps them) and put on it again. --from events-dlq: each
dead letter's record (or its copy in S3) goes back on customer-events; --reason narrows it to
those reasons (e.g. unknown_customer after the profiles are imported). The event path is idempotent
per customer and event_id: a replayed event that was decided already contacts no one again.

A message leaves its queue only once everything it names is back on a stream. Exit 0 when every
message was replayed, 1 when any stays (each is listed), 3 when the stack is unreachable.
"""


@events_app.command("replay", help=REPLAY_HELP)
def events_replay(
    source: str = typer.Option(..., "--from", help="enrich-failures, decide-failures or events-dlq"),
    reason: Optional[list[str]] = typer.Option(None, "--reason", help="events-dlq only: replay these reasons"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
) -> None:
    from marketing_tools.replay import replay_dead_letters, replay_pointers

    if source not in REPLAY_SOURCES:
        err.print(f"[red]--from {source!r}:[/] one of {', '.join(REPLAY_SOURCES)}")
        raise typer.Exit(INVALID)
    if reason and source != "events-dlq":
        err.print("[red]--reason[/] applies to --from events-dlq only (a pointer carries no reason)")
        raise typer.Exit(INVALID)
    target = targets.resolve_target(stack)
    url = target.env[REPLAY_SOURCES[source]]
    sqs, kinesis = target.client("sqs"), target.client("kinesis")
    try:
        with _progress() as progress:
            task = progress.add_task(f"replaying {source}", total=None)
            step = lambda: progress.advance(task)  # noqa: E731
            if source == "events-dlq":
                result = replay_dead_letters(kinesis, sqs, target.client("s3"), url, target.env["CUSTOMER_EVENTS_STREAM"],
                                             set(reason) if reason else None, step)
            else:
                result = replay_pointers(kinesis, sqs, url, step)
    except _aws_errors() as exc:
        raise _unreachable(target, exc, "replayed part of the queue; what was not replayed is still on it") from None
    console.print(f"replayed {result.messages - result.skipped - len(result.kept):,} of {result.messages:,} "
                  f"message(s) from {source}: {result.republished:,} record(s) back on the stream"
                  + (f", {result.skipped:,} of other reasons left" if result.skipped else ""), highlight=False)
    for kept in result.kept:
        err.print(f"  kept: {kept}", highlight=False)
    if result.kept:
        raise typer.Exit(INVALID)


@events_app.command("publish", help=PUBLISH_HELP)
def events_publish(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JSON lines"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
    wait: bool = typer.Option(False, "--wait", help="return once every published event has been processed"),
    timeout: float = typer.Option(300.0, "--timeout", min=0, help="seconds --wait waits at most"),
) -> None:
    from marketing.adapters.aws import KinesisRecordStream

    target = targets.resolve_target(stack)
    stream_name = target.env["CUSTOMER_EVENTS_STREAM"]
    stream = KinesisRecordStream(target.client("kinesis"), stream_name)
    skipped: list[tuple[int, str]] = []
    published: set[str] = set()
    count = 0
    batch: list[tuple[int, EventRecord]] = []
    batch_bytes = 0
    started = time.time()

    def flush() -> None:
        nonlocal count, batch_bytes
        if not batch:
            return
        failed = set(stream.put([(record.partition_key, record.data) for _, record in batch]))
        for index, (line, record) in enumerate(batch):
            if index in failed:
                skipped.append((line, "not accepted by Kinesis after retries"))
            else:
                count += 1
                if wait:
                    published.add(record.event_id)
        batch.clear()
        batch_bytes = 0

    total = count_lines(file)
    with _progress() as progress:
        description = f"publishing events to {stream_name}"
        task = progress.add_task(description, total=total)
        try:
            for row in event_rows(file):
                if row.error:
                    skipped.append((row.line, row.error))
                    progress.update(task, description=f"{description} ({len(skipped):,} skipped)")
                else:
                    size = len(row.value.data) + len(row.value.partition_key.encode())
                    if len(batch) >= PUT_RECORDS_LIMIT or batch_bytes + size > PUT_RECORDS_BYTES:
                        flush()
                    batch.append((row.line, row.value))
                    batch_bytes += size
                progress.update(task, completed=row.end_line)
            flush()
            progress.update(task, completed=total)
        except _aws_errors() as exc:
            line = batch[0][0] if batch else None
            raise _unreachable(target, exc, f"published {count:,} event(s) before it; "
                                            f"the lines from {line} on were not published") from None
    published_at = time.time()
    console.print(f"published {count:,} event(s) to {stream_name}, skipped {len(skipped):,}", highlight=False)
    _report_skipped(file, sorted(skipped), "line(s)")
    if wait and published:
        try:
            _wait(target, published, started, published_at, timeout)
        except _aws_errors() as exc:
            raise _unreachable(target, exc, "published; stopped waiting") from None
    if skipped:
        raise typer.Exit(INVALID)


def _wait(target: Any, pending: set[str], started: float, published_at: float, timeout: float) -> None:
    from marketing_tools.emulator.status import read_status

    events = len(pending)
    log = _DecisionLogTail(target.client("s3"), target.env["DECISIONS_BUCKET"],
                           since=datetime.fromtimestamp(started, timezone.utc) - timedelta(minutes=5))
    status_file = state_dir() / "status.json" if target.name == "local" else None
    deadline = time.monotonic() + timeout
    decided = 0
    with _progress() as progress:
        task = progress.add_task("waiting for the pipeline", total=events)
        while True:
            status = read_status(status_file) if status_file else None
            idle = status is not None and status.idle_after(published_at)  # observed before reading the log
            for event_id in log.new_event_ids():
                if event_id in pending:
                    pending.discard(event_id)
                    decided += 1
            progress.update(task, completed=events - len(pending))
            if not pending or idle:
                progress.update(task, completed=events)
                break
            if time.monotonic() >= deadline:
                break
            _sleep(1.0)
    if not pending:
        console.print(f"[green]✓[/] all {events:,} event(s) processed, each with a decision record")
    elif idle:
        console.print(f"[green]✓[/] all {events:,} event(s) processed: {decided:,} with decision records, "
                      f"{len(pending):,} without (no campaign considered them, or enrich dead-lettered them)")
    else:
        shown = sorted(pending)[:SHOW_IDS]
        more = f" and {len(pending) - len(shown):,} more" if len(pending) > len(shown) else ""
        err.print(f"[yellow]stopped waiting after {timeout:g} s:[/] {decided:,} of {events:,} event(s) have decision "
                  f"records; no record yet for: {', '.join(shown)}{more}", highlight=False)


class _DecisionLogTail:
    """The decision log's objects written since `since`, each read once: polling never re-reads the
    log's history. Firehose names objects `<prefix>YYYY/MM/DD/HH/…` (UTC), so listing starts an hour
    before `since`."""

    def __init__(self, s3: Any, bucket: str, since: datetime, prefix: str = "decisions/"):
        self._s3, self._bucket, self._prefix, self._since = s3, bucket, prefix, since
        self._start_after = prefix + (since - timedelta(hours=1)).strftime("%Y/%m/%d/%H")
        self._seen: set[str] = set()

    def new_event_ids(self) -> Iterable[str]:
        import json

        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix, StartAfter=self._start_after):
            for item in page.get("Contents", []):
                if item["Key"] in self._seen or item["LastModified"] < self._since:
                    continue
                self._seen.add(item["Key"])
                body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read().decode()
                for line in body.splitlines():
                    if line.strip():
                        yield json.loads(line).get("event_id")


# ------------------------------------------------------------------ profiles show

@profiles_app.command("show")
def profiles_show(
    customer_id: str = typer.Argument(..., help="the customer's id"),
    as_json: bool = typer.Option(False, "--json", help="the stored profile as one JSON line"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
) -> None:
    """The stored profile: fields, tags (a product's with their expiry), each consent with its
    history (value, time, source) and the last updates applied (event id, time)."""
    from rich.table import Table

    from marketing.adapters.aws import DynamoProfileStore

    target = targets.resolve_target(stack)
    try:
        found = DynamoProfileStore(target.client("dynamodb"), target.env["PROFILES_TABLE"]).get_profiles([customer_id])
    except _aws_errors() as exc:
        raise _unreachable(target, exc, "nothing shown") from None
    profile = found.get(customer_id)
    if profile is None:
        err.print(f"[red]no profile for customer {customer_id!r}[/]", highlight=False)
        raise typer.Exit(INVALID)
    if as_json:
        sys.stdout.write(profile.model_dump_json(exclude_none=True) + "\n")
        return
    fields = ", ".join(f"{k} {v}" for k, v in profile.fields().items() if not k.startswith("consents.") and k != "customer_id")
    console.print(f"[bold]{profile.customer_id}[/] {fields}", highlight=False)
    tags = Table(title=f"{len(profile.tags)} tag(s)")
    for column in ("tag", "value", "expires"):
        tags.add_column(column, overflow="fold")
    for name, value in sorted(profile.tags.items()):
        tags.add_row(name, json.dumps(value, ensure_ascii=False, default=str), profile.expiry.get(name, ""))
    console.print(tags)
    consents = Table(title="consents (each change: value, time, source)")
    for column in ("consent", "now", "changed at", "by", "earlier changes"):
        consents.add_column(column, overflow="fold")
    for channel, value in profile.consents.model_dump().items():
        changes = [c for c in profile.consent_history if c.channel == channel]
        last = changes[-1] if changes else None
        earlier = "; ".join(f"{c.value} {c.at.isoformat()} {c.source.value}" for c in reversed(changes[:-1]))
        consents.add_row(channel, str(value).lower(), last.at.isoformat() if last else "(not recorded)",
                         last.source.value if last else "", earlier)
    console.print(consents)
    applied = Table(title=f"last {len(profile.applied)} update(s) applied")
    for column in ("event id", "applied at"):
        applied.add_column(column, overflow="fold")
    for event_id, at in reversed(list(profile.applied.items())[-10:]):
        applied.add_row(event_id, at)
    console.print(applied)
