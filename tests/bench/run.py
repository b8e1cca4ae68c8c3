"""`make bench`: the decision core's events/s at production cardinality, with ratios against
baselines run on the same events in the same process (never a timed test; numbers are printed).

The headline is the first pass: 200,000 events, each for a customer the process has not seen before,
so a memo of profile values cannot be warm (production has millions of customers). Measured: the
decision core (match + arbitrate + build the decision records, in memory, no AWS, one core) and its
matcher alone, first pass and warm. Baselines, which evaluate audiences only: plain closures compiled
once per campaign and indexed by event type (what a competent engineer writes first), the naive
evaluator, and the same audiences in rule-engine and in panzi-json-logic with the same event-type
index. Each size runs in a process of its own.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from rich.console import Console
from rich.table import Table

from marketing.adapters.memory import MemoryContactLedger
from marketing.domain.campaigns import load_campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.decisions import all_verdicts, arbitrate, record_rows, screen
from marketing.domain.matching import CampaignIndex, sources
from marketing.domain.models import CustomerEvent, Profile
from marketing.domain.naive import naive_match
from marketing.ports import ContactRequest
from tests.bench.peers import JsonLogicPeer, RuleEnginePeer
from tests.bench.closures import ClosurePeer
from tests.bench.workload import cold_stream

PROJECT_ROOT = Path(__file__).resolve().parents[2]   # each size runs as `python -m tests.bench.run` from here

CORE_FLOORS = {1_000: 50_000, 10_000: 10_000}     # the decision core's events/s, first pass
OVER_CLOSURES = {1_000: 4, 10_000: 10, 50_000: 20}  # the matcher's first pass × the compiled closures
UPDATES_FLOOR = 200_000  # profile updates applied in memory, events/s, the shipped rules (issue 14)
PEERS = ("rule-engine", "json-logic")
BATCH = 500  # records per decide invocation (the Kinesis mapping's batch size)


def bench_catalog(workload) -> EventCatalog:
    return EventCatalog.from_dict({"types": {
        name: {"family": "bench", "attributes": {a: {"type": t} for a, t in attrs.items()}}
        for name, attrs in workload.event_attributes.items()
    }})


@dataclass(slots=True)
class EventDecisions:
    """One event's decision records, columnar: audience rejections as the matcher listed them
    (each becomes a not_eligible row) plus the other verdicts. `rows()` is what the sink writes."""

    event: CustomerEvent
    audience: object  # marketing.domain.matching.Match: its rejections, as the matcher holds them
    verdicts: list

    def __len__(self) -> int:
        return self.audience.rejected_count() + len(self.verdicts)

    def rows(self) -> list[dict]:
        return record_rows(self.event, all_verdicts(self.audience.rejected, self.verdicts), "2026-11-01T00:00:00+00:00", 0.0)


class Core:
    """The product's decision core over prepared events: what the decide Lambda does per record,
    minus I/O (the contact ledger is the in-memory fake with real caps)."""

    def __init__(self, campaigns, now: datetime):
        self.index = CampaignIndex(campaigns, now)
        self.ledger = MemoryContactLedger()
        self.now, self.now_ts = now, now.timestamp()

    def match(self, event: CustomerEvent, profile: Profile, fields: dict):
        return self.index.match(event.event_type, event.attributes, fields, profile.tags, self.now_ts)

    def decide(self, event: CustomerEvent, profile: Profile, fields: dict) -> EventDecisions:
        match = self.match(event, profile, fields)
        screening = screen(event, profile, match, self.now)
        verdicts = screening.verdicts
        if screening.candidates:
            def reserve(candidate):
                limits = candidate.campaign.limits
                return self.ledger.reserve(ContactRequest(event.customer_id, candidate.campaign.id, event.event_id,
                                                          limits.per_customer, None, self.now))
            _, arbitrated = arbitrate(screening.candidates, reserve)
            verdicts = verdicts + arbitrated
        return EventDecisions(event, screening.audience, verdicts)


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


REPEATS = 3  # each contender runs this many times on the same events; its best run counts (as timeit does)


def timed(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """The shortest of `repeats` runs: the least disturbed by the machine, for every contender alike."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


POPULATION = 200_000  # distinct customers the cold stream draws from (each event meets a new one)
CHUNK = 10_000        # events made, decided and let go at a time (their profiles only)


def load_campaigns(definitions: list[dict], catalog: EventCatalog) -> list:
    campaigns = []
    for definition in definitions:
        loaded = load_campaign(definition, catalog)
        if not loaded.ok:
            raise SystemExit(f"workload campaign {definition['id']} invalid: {loaded.errors[:3]}")
        campaigns.append(loaded.campaign)
    return campaigns


def once(fn: Callable[[], object]) -> float:
    """One run's seconds: the first pass over new customers can be run only once."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(size: int, n_events: int, baseline_events: int, population: int = POPULATION) -> dict:
    """Every contender's events/s at `size` live campaigns, on the same seeded events, each event for
    a customer not seen before (the first pass: the headline), then the matcher once more over the
    last chunk (warm: every customer seen once)."""
    stream = cold_stream(size, population, seed=7)
    catalog = bench_catalog(stream)
    now = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    now_ts = now.timestamp()
    campaigns = load_campaigns(stream.campaigns, catalog)
    build = once(lambda: CampaignIndex(campaigns, now))
    core = Core(campaigns, now)
    matcher = CampaignIndex(campaigns, now)  # its own index, so its first pass is cold too
    closures = ClosurePeer(campaigns, now)
    peers = {name: (peer_cls(stream.campaigns) if size <= 1_000 else None)
             for name, peer_cls in (("rule-engine", RuleEnginePeer), ("json-logic", JsonLogicPeer))}
    # the baselines have no memory of customers, so a slice of each chunk measures them alike
    closure_slice = max(200, CHUNK * 1_000 // size)
    seconds = {"core": 0.0, "match": 0.0, "closures": 0.0, "naive": 0.0, "rule-engine": 0.0, "json-logic": 0.0}
    counted = dict.fromkeys(seconds, 0)
    records = 0
    prepared: list = []
    sample: list[EventDecisions] = []
    gc.collect()
    gc.freeze()  # the long-lived state (index, campaigns) as at a function's cold start

    def timed_part(name: str, n: int, fn: Callable[[], object]) -> None:
        seconds[name] += once(fn)
        counted[name] += n

    for start in range(0, n_events, CHUNK):
        raw_events, raw_profiles = stream.chunk(start, min(CHUNK, n_events - start))
        profiles = {p["customer_id"]: Profile.model_validate(p) for p in raw_profiles}
        # the decoded inputs (decide decodes each record before its decision): not part of the core
        fields = {cid: p.fields() for cid, p in profiles.items()}
        events = [CustomerEvent.model_validate(e) for e in raw_events]
        prepared = [(e, profiles[e.customer_id], fields[e.customer_id]) for e in events]
        gc.collect()

        def run_core():
            # in batches, as the decide function gets them: a batch's decisions are built, counted
            # (where the function would write them) and then let go
            nonlocal records, sample
            for b in range(0, len(prepared), BATCH):
                batch = [core.decide(e, p, f) for e, p, f in prepared[b:b + BATCH]]
                records += sum(len(d) for d in batch)
                sample = batch

        timed_part("core", len(prepared), run_core)
        timed_part("match", len(prepared), lambda: [matcher.match(e.event_type, e.attributes, f, p.tags, now_ts)
                                                     for e, p, f in prepared])
        head = prepared[:closure_slice]
        timed_part("closures", len(head), lambda: [closures.match(e.event_type, sources(e.attributes, f, p.tags), now_ts)
                                                   for e, p, f in head])
        if start == 0:
            # the interpreters are slow: the first chunk's head is enough for them
            few = raw_events[:baseline_events]
            by_id = {p["customer_id"]: p for p in raw_profiles}
            dumped = {cid: profiles[cid].model_dump(mode="json") for cid in {e["customer_id"] for e in few}}
            timed_part("naive", len(few), lambda: [naive_match(stream.campaigns, e, dumped[e["customer_id"]], now) for e in few])
            for name, peer in peers.items():
                if peer is not None:
                    timed_part(name, len(few), lambda: [peer.match(e, by_id[e["customer_id"]]) for e in few])
    warm = rate(len(prepared), timed(lambda: [matcher.match(e.event_type, e.attributes, f, p.tags, now_ts)
                                              for e, p, f in prepared]))
    rows_rate = rate(len(sample), timed(lambda: [d.rows() for d in sample]))
    rates = {name: (rate(counted[name], seconds[name]) if counted[name] else None) for name in seconds}
    return {"size": size, "events": n_events, "records_per_event": records / n_events, **rates, "warm": warm,
            "rows": rows_rate, "build_s": build}


def measure_updates(n_events: int = 60_000, customers: int = 100) -> float:
    """Profile updates (SPEC 4.7) as enrich applies them: the shipped catalog's rules, a batch of
    BATCH events over `customers` profiles of 40 tags, one Draft per customer per batch, the profile
    handed out after each event (what enrich forwards) and once more per customer (the write)."""
    from marketing.data import CATALOG, packaged
    from marketing.domain.profile_updates import Draft, Instant

    catalog = EventCatalog.from_file(packaged(CATALOG))
    now = datetime.now(timezone.utc)
    shapes = [("call.international", {"country": "JP"}), ("order.completed", {"product": "ROAM_7D"}),
              ("billing.recharge", {"amount": 50})]
    events = [CustomerEvent(event_id=f"e{i}", event_type=shapes[i % 3][0], customer_id=f"c{i % customers}",
                            occurred_at=now, attributes=shapes[i % 3][1]) for i in range(n_events)]
    start = {f"c{i}": Profile(customer_id=f"c{i}", tags={f"t{j}": j for j in range(40)}) for i in range(customers)}

    def run() -> None:
        profiles, instant = dict(start), Instant(now)
        for b in range(0, len(events), BATCH):
            drafts: dict[str, Draft] = {}
            for event in events[b:b + BATCH]:
                draft = drafts.get(event.customer_id)
                if draft is None:
                    draft = drafts[event.customer_id] = Draft(profiles[event.customer_id])
                if draft.apply(event, catalog.types[event.event_type].updates, catalog.products, instant):
                    draft.profile()
            profiles.update({c: d.profile() for c, d in drafts.items()})

    return rate(n_events, timed(run))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=POPULATION, help="events in the first pass, each for a new customer")
    parser.add_argument("--population", type=int, default=POPULATION, help="distinct customers the events draw from")
    parser.add_argument("--baseline-events", type=int, default=1_000, help="events given to the slow interpreters")
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--processes", type=int, default=1, help="processes per size (the median counts)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # measure one size, print JSON
    parser.add_argument("--updates-only", action="store_true", help="measure only the profile updates line")
    args = parser.parse_args()
    if args.updates_only:
        return updates_line(Console(width=170))
    if args.worker:
        print(json.dumps(measure(args.worker, args.events, args.baseline_events, args.population)))
        return 0
    console = Console(width=170)
    sizes = [int(s) for s in args.sizes.split(",")]
    table = Table(title=f"Decision core, first pass: {args.events:,} events, each for a customer not seen before "
                        f"(of {args.population:,}), one core")
    for column in ("live campaigns", "index build", "records/event", "core ev/s", "match ev/s", "match warm ev/s",
                   "closures ev/s", "match × closures", "naive ev/s", "match × naive", "rule-engine ev/s",
                   "json-logic ev/s", "match × faster peer", "floors"):
        table.add_column(column, justify="right")
    failures = []
    for size in sizes:
        # each size in processes of its own (as pyperf does): what one size leaves on the heap must
        # not slow the next one down
        runs = []
        for process in range(1, args.processes + 1):
            with console.status(f"{size:,} live campaigns, process {process}/{args.processes}: {args.events:,} "
                                "events over new customers through the core, the matcher and the baselines…"):
                worker = subprocess.run(
                    [sys.executable, "-m", "tests.bench.run", "--worker", str(size), "--events", str(args.events),
                     "--population", str(args.population), "--baseline-events", str(args.baseline_events)],
                    capture_output=True, text=True, cwd=PROJECT_ROOT)
            if worker.returncode != 0:
                console.print(worker.stderr)
                raise SystemExit(f"the benchmark at {size:,} campaigns failed")
            runs.append(json.loads(worker.stdout))
        m = {key: statistics.median(run[key] for run in runs) if runs[0][key] is not None else None for key in runs[0]}
        best_peer = max((m[n] for n in PEERS if m[n]), default=None)
        over_closures, over_naive = m["match"] / m["closures"], m["match"] / m["naive"]
        missed = []
        if size in CORE_FLOORS and m["core"] < CORE_FLOORS[size]:
            missed.append(f"core ≥{CORE_FLOORS[size]:,}")
        if size in OVER_CLOSURES and over_closures < OVER_CLOSURES[size]:
            missed.append(f"≥{OVER_CLOSURES[size]}× closures")
        if size == 1_000 and (over_naive < 20 or (best_peer and m["match"] / best_peer < 10)):
            missed.append("≥20× naive, ≥10× peer")
        judged = size in CORE_FLOORS or size in OVER_CLOSURES or size == 1_000
        if missed:
            failures.append(size)
        table.add_row(
            f"{size:,}", f"{m['build_s']:.1f} s", f"{m['records_per_event']:.1f}", f"{m['core']:,.0f}",
            f"{m['match']:,.0f}", f"{m['warm']:,.0f}", f"{m['closures']:,.0f}", f"{over_closures:,.1f}×",
            f"{m['naive']:,.0f}", f"{over_naive:,.1f}×",
            *(f"{m[n]:,.0f}" if m[n] else "–" for n in PEERS),
            f"{m['match'] / best_peer:,.0f}×" if best_peer else "–",
            ("[red]MISSED " + ", ".join(missed) + "[/]") if missed else ("[green]met[/]" if judged else "–"),
        )
    console.print(table)
    console.print("First pass: every event is for a customer the process has not seen (a population of "
                  f"{args.population:,}), so no memo of profile values is warm; that is production and the headline. "
                  "match warm: the matcher once more over the last chunk's customers. core: match + arbitrate + the "
                  "decision records built (columnar), in memory; closures: each campaign compiled once into plain "
                  "closures and indexed by event type (what a competent engineer writes first); naive: the "
                  "reference interpreter; the peers: rule-engine and panzi-json-logic with the same event-type index. "
                  "The baselines have no memory of customers, so they run on a slice of each chunk; rates are per event.")
    console.print("Floors (issue 16): the matcher ≥4× the closures at 1,000 campaigns, ≥10× at 10,000, ≥20× at 50,000; "
                  "the core ≥50,000 ev/s at 1,000 and ≥10,000 at 10,000; at 1,000 the matcher ≥20× naive and ≥10× "
                  "the faster peer.")
    return 1 if updates_line(console) or failures else 0


def updates_line(console: Console) -> int:
    updates = measure_updates()
    ok = updates >= UPDATES_FLOOR
    console.print(f"Profile updates applied in memory (shipped rules, {BATCH}-event batches over 100 customers): "
                  f"{updates:,.0f} ev/s; floor ≥{UPDATES_FLOOR:,} " + ("[green]met[/]" if ok else "[red]MISSED[/]"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
