"""`marketing demo`: the whole decision path on the embedded emulator, with the real handlers.

Starts moto's server, creates every resource, loads the sample campaigns and seeded synthetic
profiles, streams a day's worth of synthetic events (with malformed ones and re-deliveries) in
waves through the local event-source pollers, then reads back what a user would check: the DLQ,
the decision log, the SMS and email the providers captured. Prints a summary and writes a report.
"""
from __future__ import annotations

import glob
import json
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketing.adapters.aws import DynamoCampaignStore, DynamoProfileStore, KinesisRecordStream, S3DecisionLog
from marketing.domain.campaigns import Campaign, load_campaign_file
from marketing.domain.catalog import EventCatalog
from marketing.domain.decisions import current_records
from marketing.domain.models import Profile
from marketing_tools.lifecycle_client import LifecycleClient
from marketing.domain.responses import UNSUBSCRIBE_EVENTS
from marketing.domain.touchpoints import Touchpoints
from marketing_tools.demo import response_traffic as demo_responses, synthetic
from marketing_tools.demo.story import DemoStory, StoryResult
from marketing_tools.emulator.runtime import CallCounter, Emulator, Pipeline
from marketing_tools.emulator.account import ACCOUNT, REGION
from marketing.data import CATALOG, TAGS, TOUCHPOINTS, packaged
from marketing_tools.project import project_path


@dataclass
class DemoResult:
    events_published: int = 0
    malformed_published: dict[str, int] = field(default_factory=dict)
    duplicates_published: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    sms: int = 0
    emails: int = 0
    sms_samples: list[tuple[str, str]] = field(default_factory=list)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    aws_calls: dict[str, int] = field(default_factory=dict)
    aws_calls_per_100_events: float = 0.0
    duplicate_contacts: int = 0
    story: StoryResult | None = None
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)        # seconds per part of the run, in order
    follow_ups: dict[str, int] = field(default_factory=dict)      # replies, conversions, touchpoint visits sent in
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)  # per campaign: contacts, rules, responses

    def dead_letter_gaps(self) -> dict[str, int]:
        """Per reason, dead-lettered minus published as malformed, where they differ: below zero a
        malformed record got through, above zero a valid event was dead-lettered."""
        reasons = set(self.malformed_published) | set(self.dead_lettered)
        gaps = {r: self.dead_lettered.get(r, 0) - self.malformed_published.get(r, 0) for r in reasons}
        return {r: gap for r, gap in gaps.items() if gap}

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for per_campaign in self.outcomes.values():
            total.update(per_campaign)
        return total


def load_campaigns(catalog: EventCatalog) -> list[Campaign]:
    campaigns = []
    for path in sorted(glob.glob(str(project_path("events", "campaigns", "*.yaml")))):
        loaded = load_campaign_file(path, catalog)
        if not loaded.ok:
            raise SystemExit(f"{path}: " + "; ".join(map(str, loaded.errors)))
        campaigns.append(loaded.campaign)
    return campaigns


def _drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(messages)])


def run_demo(profiles: int = 10_000, events: int = 50_000, seed: int = 42, wave: int = 5_000,
             console: Console | None = None, report_dir: Path | None = None, story_customers: int = 800) -> DemoResult:
    console = console or Console()
    started = time.monotonic()
    result = DemoResult()
    lap = _Laps(result.phases)
    catalog = EventCatalog.from_file(packaged(CATALOG))

    with console.status("Starting the local AWS emulator and creating every resource…"):
        emulator = Emulator()
        env = emulator.create()
    console.print(f"[green]✓[/] moto server on {emulator.endpoint}; {len(env)} resources created")
    lap("emulator and resources")
    try:
        campaigns = load_campaigns(catalog)
        store = DynamoCampaignStore(emulator.client("dynamodb"), env["CAMPAIGNS_TABLE"], catalog)
        for campaign in campaigns:
            store.put_campaign(campaign)
        console.print(f"[green]✓[/] {len(campaigns)} campaigns live: " + ", ".join(c.id for c in campaigns))

        people = synthetic.make_profiles(profiles, packaged(TAGS), seed=seed)
        profile_store = DynamoProfileStore(emulator.client("dynamodb"), env["PROFILES_TABLE"])
        def progress_bar() -> Progress:
            return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=console)

        with progress_bar() as progress:
            task = progress.add_task("Loading profiles", total=len(people))
            for start in range(0, len(people), 1000):
                chunk = [Profile.model_validate(p) for p in people[start:start + 1000]]
                profile_store.put_profiles(chunk)
                progress.advance(task, len(chunk))
        lap("campaigns and profiles")

        # registered before the handlers' clients exist (a client copies the session's hooks when made),
        # counting only the day's traffic
        counter = CallCounter()
        counter.enabled = False
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call.*.*", counter)
        pipeline = Pipeline(emulator.env, emulator.client)
        stream = KinesisRecordStream(emulator.client("kinesis"), env["CUSTOMER_EVENTS_STREAM"])
        story = DemoStory(LifecycleClient(emulator.env, emulator.client, catalog), customers=story_customers)
        result.story = _story_first_act(story, profile_store, stream, pipeline, console)
        lap("story: rehearsal, submit, approve")
        counter.enabled = True
        ids = [p["customer_id"] for p in people]
        # rare in the background traffic: inbound-session openers (most customers are not at a store), and
        # conversions and unsubscribes (the customers' answers at the end bring those where they belong)
        session_types = frozenset(Touchpoints.from_file(packaged(TOUCHPOINTS)).sessions) | {
            c.conversion.event for c in campaigns if c.conversion} | UNSUBSCRIBE_EVENTS
        with progress_bar() as progress:
            publish = progress.add_task("Publishing events", total=events)
            process = progress.add_task("Handler records done", total=None)
            for number, start in enumerate(range(0, events, wave)):
                # waves, like a day's traffic: each is published, then drained by the real handlers
                plan = synthetic.make_events(min(wave, events - start), catalog, campaigns, ids, seed=seed + number,
                                             rare_types=session_types)
                counter.enabled = False  # publishing is upstream's cost, not the pipeline's
                stream.put(list(zip(plan.partition_keys, plan.records)))
                counter.enabled = True
                progress.advance(publish, len(plan.records))
                result.events_published += len(plan.records)
                result.duplicates_published += plan.duplicates
                for reason, n in plan.malformed.items():
                    result.malformed_published[reason] = result.malformed_published.get(reason, 0) + n
                pipeline.drain(idle_rounds=2, progress=lambda n: progress.advance(process, n))
        counter.enabled = False
        lap("the day's traffic")
        with console.status("Customers answer: SMS replies, conversions, offers at touchpoints…"):
            rows = current_records(S3DecisionLog(emulator.client("s3"), env["DECISIONS_BUCKET"]).read())
            result.follow_ups = demo_responses.respond(emulator, env, campaigns, catalog, pipeline, seed, rows)
        result.aws_calls = dict(counter.calls.most_common())
        lap("customers answer")
        _story_second_act(story, stream, pipeline, emulator, console)
        lap("story: live, conversions, evaluation")
        result.aws_calls_per_100_events = round(100 * counter.total() / max(result.events_published, 1), 1)

        sqs = emulator.client("sqs")
        letters = _drain_queue(sqs, env["EVENTS_DLQ_URL"])
        result.dead_lettered = dict(Counter(letter["reason"] for letter in letters))

        # `rows` were read before customers answered: answers (replies, conversions) trigger no campaign
        outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        reasons: Counter[str] = Counter()
        latency_by_event: dict[str, float] = {}
        for row in rows.values():
            outcomes[row["campaign_id"]][row["outcome"]] += 1
            if row["reason"]:
                reasons[f"{row['outcome']}:{row['reason']}"] += 1
            if row["outcome"] != "failed":
                latency_by_event[row["event_id"]] = row["latency_ms"]
        result.outcomes = {cid: dict(c) for cid, c in sorted(outcomes.items())}
        result.reasons = dict(reasons.most_common())
        result.campaigns = demo_responses.per_campaign(rows, env, emulator)
        if latency_by_event:
            values = sorted(latency_by_event.values())
            result.latency_p50_ms = round(statistics.median(values), 2)
            result.latency_p99_ms = round(values[min(len(values) - 1, int(len(values) * 0.99))], 2)

        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends

        sms = sns_backends[ACCOUNT][REGION].sms_messages
        result.sms = len(sms)
        result.sms_samples = [tuple(v) for v in list(sms.values())[:3]]
        result.emails = len(ses_backends[ACCOUNT][REGION].sent_messages)
        sent_rows = [r for r in rows.values() if r["outcome"] == "sent"]
        result.duplicate_contacts = len(sent_rows) - len({r["event_id"] for r in sent_rows})
        lap("summary")
    finally:
        emulator.stop()
    result.seconds = round(time.monotonic() - started, 1)
    print_summary(result, console)
    write_report(result, report_dir or project_path("reports"), console)
    return result


class _Laps:
    """Seconds per part of the run: each call closes the part that ran since the previous one."""

    def __init__(self, phases: dict[str, float]):
        self.phases, self.last = phases, time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = round(now - self.last, 1)
        self.last = now


def _publish(stream: KinesisRecordStream, events: list[dict[str, Any]]) -> None:
    stream.put([(e["customer_id"], json.dumps(e, ensure_ascii=False).encode()) for e in events])


def _story_first_act(story: DemoStory, profiles: DynamoProfileStore, stream: KinesisRecordStream,
                     pipeline: Pipeline, console: Console) -> StoryResult:
    """Last week's airport visitors pass (no campaign for them yet), then the story campaign is
    submitted, estimated over that traffic and approved — by someone other than its submitter."""
    with console.status("Story: rehearsal traffic, then submit → estimate → approval on Step Functions…"):
        profiles.put_profiles([Profile.model_validate(p) for p in story.profiles])
        _publish(stream, story.rehearsal_events())
        pipeline.drain(idle_rounds=2)
        outcome = story.submit_and_approve()
    estimate = outcome.estimate or {}
    console.print(f"[green]✓[/] story campaign {outcome.campaign_id!r} submitted by {outcome.submitted_by}; "
                  f"estimate: reach {estimate.get('reach', 0):,}, {estimate.get('sends_per_day', 0):,} sends/day, "
                  f"contact cost {estimate.get('contact_cost', 0):,}; self-approval refused for "
                  f"{', '.join(outcome.refused or []) or 'nobody'}; approved by {', '.join(outcome.approved_by or [])}; "
                  f"status {outcome.status}")
    return outcome


def _story_second_act(story: DemoStory, stream: KinesisRecordStream, pipeline: Pipeline, emulator: Emulator,
                      console: Console) -> None:
    with console.status("Story: the visitors arrive; conversions; evaluation on Step Functions…"):
        _publish(stream, story.live_events())
        pipeline.drain(idle_rounds=2)
        story.evaluate(emulator.client, emulator.env)


def print_story(story: StoryResult, console: Console) -> None:
    console.rule("[bold]The campaign's story: submit → estimate → approve → live → evaluate")
    grid = Table.grid(padding=(0, 2))
    grid.add_row("Campaign", story.campaign_id, f"{story.customers:,} synthetic travellers, 30% holdout")
    grid.add_row("Approval", story.status,
                 f"submitted by {story.submitted_by}; refused: {', '.join(story.refused or []) or '-'}; "
                 f"approved by {', '.join(story.approved_by or [])}")
    if story.conversions:
        c = story.conversions
        grid.add_row("Conversions", f"treated {c.treated_converted}/{c.treated}",
                     f"control {c.control_converted}/{c.control}")
    grid.add_row("Report", story.headline, "")
    mark = "[green]✓ contains[/]" if story.contains_truth else "[red]✗ misses[/]"
    grid.add_row("True uplift", f"{story.true_uplift * 100:+.1f} points", f"the measured 95% interval {mark} it")
    console.print(grid)


def print_summary(result: DemoResult, console: Console) -> None:
    console.rule("[bold]What happened")
    head = Table.grid(padding=(0, 2))
    head.add_row("Events published", f"{result.events_published:,}",
                 f"(incl. {sum(result.malformed_published.values())} malformed, {result.duplicates_published} re-deliveries)")
    head.add_row("SMS captured by SNS", f"{result.sms:,}", f"email captured by SES: {result.emails:,}")
    head.add_row("Decision latency", f"p50 {result.latency_p50_ms} ms", f"p99 {result.latency_p99_ms} ms")
    head.add_row("AWS calls per 100 events", f"{result.aws_calls_per_100_events}",
                 ", ".join(f"{k} {v}" for k, v in list(result.aws_calls.items())[:6]))
    head.add_row("Second contacts for one event", str(result.duplicate_contacts), "")
    head.add_row("Run time", f"{result.seconds} s", ", ".join(f"{k} {v:g} s" for k, v in result.phases.items()))
    console.print(head)

    dlq = Table(title="Dead-lettered by reason", show_lines=False)
    dlq.add_column("reason")
    dlq.add_column("published", justify="right")
    dlq.add_column("dead-lettered", justify="right")
    dlq.add_column("")
    gaps = result.dead_letter_gaps()
    for reason in sorted(set(result.malformed_published) | set(result.dead_lettered)):
        gap = gaps.get(reason, 0)
        mark = "[green]✓[/]" if not gap else "[red]missing[/]" if gap < 0 else "[red]valid ones too[/]"
        dlq.add_row(reason, str(result.malformed_published.get(reason, 0)), str(result.dead_lettered.get(reason, 0)),
                    mark)
    console.print(dlq)

    columns = OUTCOME_COLUMNS
    table = Table(title="Decisions by outcome per campaign")
    table.add_column("campaign")
    for column in columns:
        table.add_column(column, justify="right")
    for campaign_id, counts in result.outcomes.items():
        table.add_row(campaign_id, *[str(counts.get(c, 0)) for c in columns])
    totals = result.totals()
    table.add_row("[bold]total", *[f"[bold]{totals.get(c, 0)}" for c in columns])
    console.print(table)
    reasons = Table(title="Why not sent (outcome:reason)")
    reasons.add_column("rule")
    reasons.add_column("records", justify="right")
    for rule, n in list(result.reasons.items())[:12]:
        reasons.add_row(rule, str(n))
    console.print(reasons)
    demo_responses.print_table(result.campaigns, result.follow_ups, console)
    for msisdn, text in result.sms_samples:
        console.print(f"  SMS to {msisdn[:6]}…{msisdn[-2:]}: {text}")
    if result.story:
        print_story(result.story, console)


_REPORT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo run</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}td:first-child,th:first-child{text-align:left}
.bar{fill:#3b82f6}</style></head><body>
<h1>Event marketing demo — {{ generated }}</h1>
<p>{{ num(r.events_published) }} events, {{ num(r.sms) }} SMS, {{ num(r.emails) }} emails; decision latency p50
{{ r.latency_p50_ms }} ms, p99 {{ r.latency_p99_ms }} ms; {{ r.aws_calls_per_100_events }} AWS calls per 100 events.</p>
{% if story %}<p>The story's campaign evaluation: <a href="{{ story }}">{{ story }}</a> (lift against its control group).</p>{% endif %}
<h2>Decisions by outcome</h2>
<svg width="{{ chart_width }}" height="{{ 24 * totals|length + 10 }}" role="img" aria-label="decisions by outcome">{% for name, n in totals %}
<text x="0" y="{{ 24 * loop.index0 + 16 }}">{{ name }}</text>
<rect class="bar" x="140" y="{{ 24 * loop.index0 + 4 }}" height="16" width="{{ (bar_span * n / top)|round(1) }}"></rect>
<text x="{{ 146 + bar_span * n / top }}" y="{{ 24 * loop.index0 + 16 }}">{{ num(n) }}</text>{% endfor %}</svg>
<h2>Per campaign</h2><table><tr><th>campaign</th>{% for c in columns %}<th>{{ c }}</th>{% endfor %}<th>responses</th><th>conversions (treated / holdout)</th></tr>
{% for cid, counts in r.outcomes.items() %}{% set c = r.campaigns.get(cid, {}) %}<tr><td>{{ cid }}</td>{% for col in columns %}<td>{{ num(counts.get(col, 0)) }}</td>{% endfor %}
<td>{{ num(c.get("responses", 0)) }}</td><td>{{ num(c.get("conversions_treated", 0)) }} / {{ num(c.get("conversions_holdout", 0)) }}</td></tr>{% endfor %}
</table><h2>Dead-lettered</h2><table>{% for k, v in r.dead_lettered.items() %}<tr><td>{{ k }}</td><td>{{ num(v) }}</td></tr>{% endfor %}</table>
</body></html>"""
OUTCOME_COLUMNS = ["sent", "holdout", "deferred", "throttled", "suppressed", "not_eligible", "expired",
                   "lost_arbitration", "failed"]
BAR_SPAN, LABEL_ROOM = 420, 120   # the longest bar ends where its label still fits inside the chart


def write_report(result: DemoResult, directory: Path, console: Console) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = asdict(result)
    if result.story and result.story.report_html:   # the evaluation's own report, next to the demo's
        data["story"].pop("report_html")
        (directory / f"{result.story.campaign_id}.html").write_text(result.story.report_html, encoding="utf-8")
    (directory / "demo.json").write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    totals = sorted(result.totals().items(), key=lambda kv: -kv[1])
    story = f"{result.story.campaign_id}.html" if result.story and result.story.report_html else None
    html = Environment(autoescape=select_autoescape(default=True)).from_string(_REPORT).render(
        r=result, totals=totals, top=max([n for _, n in totals] or [1]), columns=OUTCOME_COLUMNS,
        bar_span=BAR_SPAN, chart_width=140 + BAR_SPAN + LABEL_ROOM, num=lambda n: f"{n:,}", story=story,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    path = directory / "demo.html"
    path.write_text(html, encoding="utf-8")
    console.print(f"Report: {path} (and demo.json)" + (f"; the story's evaluation: {directory / story}" if story else ""))
    return path
