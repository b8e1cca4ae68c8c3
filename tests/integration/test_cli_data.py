"""`marketing profiles import FILE` and `marketing events publish FILE [--wait]` (SPEC 4.6) against moto:
every good line lands in the stack, every bad one is named with its line number (exit 1), a large file
streams with a progress bar, and --wait returns once the pipeline has processed what was published.
"""
from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path
from typing import Any


import marketing_tools.cli.target
import marketing_tools.cli.data
from marketing_tools.cli.target import Target
from marketing_tools.emulator.status import StatusRecorder
from tests.integration.cli import run
from tests.integration.world import World, a_campaign, a_profile, an_event


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)  # rich may wrap long lines


def stored_profile(world: World, customer: str) -> dict[str, Any] | None:
    item = world.client("dynamodb").get_item(TableName=world.env["PROFILES_TABLE"],
                                             Key={"customer_id": {"S": customer}}).get("Item")
    return json.loads(item["doc"]["S"]) if item else None


def profiles_stored(world: World) -> int:
    pages = world.client("dynamodb").get_paginator("scan").paginate(TableName=world.env["PROFILES_TABLE"], Select="COUNT")
    return sum(page["Count"] for page in pages)


def write_lines(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], *rows: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stream_records(world: World) -> list[dict[str, Any]]:
    """Every record on the customer-events stream, from the start of each shard."""
    kinesis, name = world.client("kinesis"), world.env["CUSTOMER_EVENTS_STREAM"]
    records = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += response["Records"]
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return records


# ------------------------------------------------------------------ profiles import


def test_a_json_lines_file_imports_every_profile_as_it_was_given(stack, tmp_path):
    li_lei = a_profile("8613800000001", name="李雷", tier="gold", tenure_months=26, interests=["travel"])
    han_mei = a_profile("8613800000002", name="韩梅梅", email="han.mei@example.com", channel_preference=["email"])
    path = write_lines(tmp_path / "profiles.jsonl", li_lei, "", han_mei)

    code, out, errors = run("profiles", "import", str(path))

    assert code == 0, out + errors
    assert "imported 2 profile(s)" in one_line(out) and "skipped 0" in out
    stored = stored_profile(stack, "8613800000001")
    assert stored["name"] == "李雷" and stored["tags"] == {"value_tier": "gold", "tenure_months": 26, "interests": ["travel"]}
    assert stored["consents"]["sms"] is True and stored["channel_preference"] == ["sms", "email"]
    assert stored_profile(stack, "8613800000002")["email"] == "han.mei@example.com"


CSV_HEADER = ["customer_id", "name", "msisdn", "timezone", "consents.marketing", "consents.sms", "consents.email",
              "channel_preference", "tags.value_tier", "tags.tenure_months", "tags.interests", "tags.zone_code",
              "tags.vip_lounge"]


def test_a_csv_file_with_two_bad_rows_imports_the_rest_and_names_both_lines(stack, tmp_path):
    path = write_csv(
        tmp_path / "profiles.csv", CSV_HEADER,
        ["8613800000001", "李雷", "+8613800000001", "Asia/Shanghai", "true", "yes", "0", "sms;email", "gold", "26",
         "travel, music", "00123", "true"],                                                  # line 2
        ["8613800000002", "韩梅梅", "+8613800000002", "", "true", "maybe", "", "sms", "silver", "3", "", "", ""],  # line 3
        ["8613800000003", "", "+8613800000003", "", "true", "true", "", "app_push", "", "", "", "", ""],  # line 4
        ["8613800000004", "王芳", "", "", "", "", "", "", "basic", "", '["video"]', "", "false"],  # line 5
        ["", "无名", "+8613800000009", "", "true", "true", "", "fax", "gold", "x", "", "", ""],     # line 6
    )

    code, out, errors = run("profiles", "import", str(path))

    assert code == 1, out + errors
    assert "imported 3 profile(s)" in one_line(out) and "skipped 2" in out
    errors = one_line(errors)
    assert re.search(r"line 3: consents\.sms: expected true or false, got 'maybe'", errors), errors
    line_6 = re.search(r"line 6: (.*)", errors).group(1)
    assert "tags.tenure_months: expected a number, got 'x'" in line_6
    assert "line 2:" not in errors and "line 4:" not in errors and "line 5:" not in errors
    assert stored_profile(stack, "8613800000002") is None and profiles_stored(stack) == 3
    li_lei = stored_profile(stack, "8613800000001")
    assert li_lei["consents"] == {"marketing": True, "sms": True, "email": False, "app_push": False, "dnd": False}
    assert li_lei["channel_preference"] == ["sms", "email"] and li_lei["timezone"] == "Asia/Shanghai"
    # typed by the tag dictionary where it declares the tag, by the value's look elsewhere
    assert li_lei["tags"] == {"value_tier": "gold", "tenure_months": 26, "interests": ["travel", "music"],
                              "zone_code": "00123", "vip_lounge": True}
    wang_fang = stored_profile(stack, "8613800000004")
    assert wang_fang["tags"] == {"value_tier": "basic", "interests": ["video"], "vip_lounge": False}
    assert wang_fang["consents"]["marketing"] is False and wang_fang["timezone"] == "UTC"


def test_every_reason_a_row_is_refused_for_is_printed(stack, tmp_path):
    path = write_csv(tmp_path / "profiles.csv", ["customer_id", "channel_preference", "tags.tenure_months"],
                     ["", "sms;fax", "x"])

    code, _, errors = run("profiles", "import", str(path))

    assert code == 1
    assert re.search(r"line 2: tags\.tenure_months: expected a number, got 'x'; customer_id: Field required; "
                     r"channel_preference\.1: Input should be 'sms', 'app_push' or 'email'", one_line(errors)), errors


def test_a_row_with_three_bad_fields_reports_all_three_and_imports_nothing_of_it(stack, tmp_path):
    path = write_csv(tmp_path / "profiles.csv", ["customer_id", "status", "msisdn", "timezone", "tags.plan"],
                     ["8613800000001", "actve", "notanumber", "Mars/Olympus", "4G-58"],
                     ["8613800000002", "active", "+8613800000002", "Asia/Shanghai", "4G-58"])
    jsonl = write_lines(tmp_path / "profiles.jsonl", {"customer_id": "8613800000003", "tags": {"roaming_pack": "yes",
                                                                                               "tenure_months": 2.5}})

    code, _, errors = run("profiles", "import", str(path))
    json_code, _, json_errors = run("profiles", "import", str(jsonl))

    assert (code, json_code) == (1, 1)
    line = one_line(errors)
    assert re.search(r"line 2: status: 'actve' is not one of active, suspended, closed; did you mean 'active'\?; "
                     r"msisdn: 'notanumber' is not an E\.164 number .*; timezone: 'Mars/Olympus' is not an IANA timezone",
                     line), errors
    assert "line 3" not in line
    assert stored_profile(stack, "8613800000001") is None and stored_profile(stack, "8613800000002") is not None
    assert re.search(r"tags\.roaming_pack: expected a boolean, got 'yes'; tags\.tenure_months: expected an integer",
                     one_line(json_errors)), json_errors


def test_a_json_lines_file_names_lines_that_are_not_profiles(stack, tmp_path):
    path = write_lines(tmp_path / "profiles.jsonl", a_profile("8613800000001"), '{"customer_id": ', "[1, 2]",
                       {"customer_id": "8613800000004", "tags": {"address": {"city": "beijing"}}},
                       {**a_profile("8613800000005"), "updated_at": "2026-01-01"})

    code, out, errors = run("profiles", "import", str(path))

    assert code == 1
    errors = one_line(errors)
    assert "line 2: not JSON" in errors and "line 3: not a JSON object but list" in errors
    assert "line 4: tags: Value error, tag values must be scalars or lists, not maps: address" in errors
    assert "'updated_at' is not a profile field and was ignored (first on line 5)" in errors
    assert profiles_stored(stack) == 2


def test_a_csv_header_with_an_unknown_column_imports_nothing(stack, tmp_path):
    path = write_csv(tmp_path / "profiles.csv", ["customer_id", "emial", "tag.value_tier"], ["8613800000001", "a", "b"])

    code, _, errors = run("profiles", "import", str(path))

    assert code == 1
    errors = one_line(errors)
    assert "nothing imported" in errors
    assert "column 2 'emial' is not a profile column" in errors and "column 3 'tag.value_tier'" in errors
    assert profiles_stored(stack) == 0


def test_a_customer_twice_in_one_file_is_stored_as_its_last_line(stack, tmp_path):
    path = write_lines(tmp_path / "profiles.jsonl", a_profile("8613800000001", tier="silver"),
                       a_profile("8613800000001", tier="gold"))

    code, out, errors = run("profiles", "import", str(path))

    assert code == 0, out + errors
    assert stored_profile(stack, "8613800000001")["tags"]["value_tier"] == "gold"


ROWS = 100_000


def test_a_100k_row_file_streams_in_with_a_progress_bar(stack, tmp_path):
    path = tmp_path / "profiles.jsonl"
    with open(path, "w", encoding="utf-8") as file:
        for i in range(ROWS):
            file.write(json.dumps(a_profile(f"86138{i:08d}", tenure_months=i % 240), ensure_ascii=False) + "\n")

    code, out, errors = run("profiles", "import", str(path))

    assert code == 0, errors
    assert re.search(rf"importing profiles into \S+ .*━+.* {ROWS}/{ROWS} 100%", out), out  # the bar, as it ended
    assert f"imported {ROWS:,} profile(s)" in out
    # moto keeps ItemCount exact (AWS refreshes it every few hours); a 100k-item scan would take longer than the import
    assert stack.client("dynamodb").describe_table(TableName=stack.env["PROFILES_TABLE"])["Table"]["ItemCount"] == ROWS
    assert stored_profile(stack, f"86138{ROWS - 1:08d}")["tags"]["tenure_months"] == (ROWS - 1) % 240


def test_an_unreachable_stack_exits_3(aws, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKETING_STATE_DIR", str(tmp_path / ".marketing"))  # no local.json: no local stack is running
    path = write_lines(tmp_path / "profiles.jsonl", a_profile())

    code, _, errors = run("profiles", "import", str(path))

    assert code == 3 and "no local stack is running" in one_line(errors)


def test_a_stack_without_the_profiles_table_exits_3_and_says_what_was_imported(world, monkeypatch, tmp_path):
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target",
                        lambda name: Target({**world.env, "PROFILES_TABLE": "gone"}, None, "deployed"))
    path = write_lines(tmp_path / "profiles.jsonl", a_profile())

    code, _, errors = run("profiles", "import", str(path))

    assert code == 3
    assert "unreachable or refused the write" in one_line(errors) and "imported 0 profile(s) before it" in one_line(errors)


# ------------------------------------------------------------------ events publish


def test_publish_puts_every_good_line_on_the_stream_and_names_the_bad_ones(stack, tmp_path):
    good = [an_event(customer=f"86138000000{i:02d}", event_id=f"evt-{i}") for i in range(5)]
    path = write_lines(tmp_path / "events.jsonl", good[0], "not json", good[1], '["evt-x"]',
                       {**good[2], "customer_id": ""}, "", good[3],
                       {k: v for k, v in good[4].items() if k != "event_id"},
                       {"event_id": "evt-unknown-type", "event_type": "location.teleport", "customer_id": "86138"})

    code, out, errors = run("events", "publish", str(path))

    assert code == 1, out + errors
    assert "published 4 event(s)" in one_line(out) and "skipped 4" in out
    errors = one_line(errors)
    assert "line 2: not JSON" in errors and "line 4: not a JSON object but list" in errors
    assert 'line 5: customer_id: expected a non-empty string, got ""' in errors
    assert "line 8: event_id: missing" in errors
    records = stream_records(stack)
    assert {json.loads(r["Data"])["event_id"]: r["PartitionKey"] for r in records} == {
        "evt-0": good[0]["customer_id"], "evt-1": good[1]["customer_id"], "evt-3": good[3]["customer_id"],
        "evt-unknown-type": "86138"}  # the pipeline judges event types, not the publisher
    assert len(records) == 4


def test_publish_in_batches_of_500_keeps_every_record(stack, tmp_path):
    path = write_lines(tmp_path / "events.jsonl", *[an_event(customer=f"86138{i:08d}", event_id=f"evt-{i}")
                                                   for i in range(1_201)])

    code, out, errors = run("events", "publish", str(path))

    assert code == 0, out + errors
    assert re.search(r"publishing events to \S+ .* 1201/1201 100%", out), out
    assert sorted(json.loads(r["Data"])["event_id"] for r in stream_records(stack)) == sorted(
        f"evt-{i}" for i in range(1_201))


LI_LEI = "8613800000001"


def test_wait_returns_once_the_pipeline_has_processed_every_event(stack, tmp_path, monkeypatch):
    stack.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    stack.add_profiles(a_profile(LI_LEI, name="李雷"))
    triggers = an_event(customer=LI_LEI, event_id="evt-triggers")
    elsewhere = an_event(customer=LI_LEI, area="SHA_T2", event_id="evt-elsewhere")   # no campaign considers it
    stranger = an_event(customer="8613899999999", event_id="evt-stranger")         # dead-lettered by enrich
    path = write_lines(tmp_path / "events.jsonl", triggers, elsewhere, stranger)
    pipeline = stack.start()
    (tmp_path / ".marketing").mkdir()
    status = StatusRecorder(tmp_path / ".marketing" / "status.json")

    def pipeline_runs_meanwhile(seconds: float) -> None:  # what `marketing local up` does in the background
        started = time.time()
        status.record(started, pipeline.step())
        time.sleep(0.2)

    monkeypatch.setattr(marketing_tools.cli.data, "_sleep", pipeline_runs_meanwhile)
    started = time.monotonic()

    code, out, errors = run("events", "publish", str(path), "--wait", "--timeout", "30")

    assert code == 0, out + errors
    assert time.monotonic() - started < 15
    assert "all 3 event(s) processed: 1 with decision records, 2 without" in one_line(out)
    assert stack.decision(triggers, "roam-offer")["outcome"] == "sent"
    assert [json.loads(letter["data"])["event_id"] for letter in stack.dead_letters()] == ["evt-stranger"]


def test_wait_on_a_stack_without_an_idle_signal_stops_at_the_timeout_and_lists_what_is_unaccounted(
        world, monkeypatch, tmp_path):
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "deployed"))
    path = write_lines(tmp_path / "events.jsonl", an_event(event_id="evt-a"), an_event(event_id="evt-b"))

    code, out, errors = run("events", "publish", str(path), "--wait", "--timeout", "0")

    assert code == 0, out + errors
    assert "stopped waiting after 0 s: 0 of 2 event(s) have decision records; no record yet for: evt-a, evt-b" in (
        one_line(errors))


def test_wait_on_a_deployed_stack_returns_as_soon_as_every_event_has_a_decision_record(world, monkeypatch, tmp_path):
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "deployed"))
    world.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"), a_profile("8613800000002", name="韩梅梅"))
    path = write_lines(tmp_path / "events.jsonl", an_event(customer=LI_LEI), an_event(customer="8613800000002"))
    pipeline = world.start()
    monkeypatch.setattr(marketing_tools.cli.data, "_sleep", lambda seconds: pipeline.step())  # Lambda, meanwhile

    code, out, errors = run("events", "publish", str(path), "--wait", "--timeout", "30")

    assert code == 0, out + errors
    assert "all 2 event(s) processed, each with a decision record" in one_line(out)
    assert sorted(text for _, text in world.sms()) == ["李雷：漫游包", "韩梅梅：漫游包"]
