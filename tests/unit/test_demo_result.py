"""The demo's verdict on its dead letters: each malformed record dead-lettered, no valid event with them."""
from __future__ import annotations

from marketing_tools.demo.run import DemoResult


def test_dead_letters_that_match_what_was_published_leave_no_gap():
    result = DemoResult(malformed_published={"not_json": 3, "too_old": 2}, dead_lettered={"not_json": 3, "too_old": 2})
    assert result.dead_letter_gaps() == {}


def test_a_missed_malformed_record_and_a_dead_lettered_valid_event_are_both_gaps():
    result = DemoResult(malformed_published={"not_json": 3, "too_old": 2},
                        dead_lettered={"not_json": 3, "too_old": 1, "invalid_attribute": 4})
    assert result.dead_letter_gaps() == {"too_old": -1, "invalid_attribute": 4}
