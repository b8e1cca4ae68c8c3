"""Live control (pause, resume, stop): each move only from the states it may come from, always audited
with who and why; the decision path matches active campaigns only."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from marketing.adapters.memory import MemoryCampaignStore
from marketing.app.campaign_control import CampaignControl
from marketing.domain.approval import Action
from tests.unit.factories import a_campaign

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


class Trail(list):
    def append(self, campaign_id, record=None):  # the AuditTrail port
        super().append((campaign_id, record))


@pytest.fixture
def control():
    store, trail = MemoryCampaignStore([a_campaign(id="roam")]), Trail()
    return CampaignControl(store, trail, lambda: NOW), store, trail


def test_pause_resume_stop_move_the_state_and_leave_a_trail(control):
    control, store, trail = control
    assert control.change("roam", Action.PAUSED, "ann", "budget review").accepted
    assert store.live_campaigns() == []                                   # no longer matched
    assert control.change("roam", Action.RESUMED, "ann").accepted
    assert [c.id for c in store.live_campaigns()] == ["roam"]
    assert control.change("roam", Action.STOPPED, "bob", "complaints").accepted
    assert store.items["roam"][1] == "stopped" and store.live_campaigns() == []
    assert [(r["action"], r["by"], r["comment"]) for _, r in trail] == [
        ("paused", "ann", "budget review"), ("resumed", "ann", None), ("stopped", "bob", "complaints")]


@pytest.mark.parametrize("first, then", [(Action.PAUSED, Action.PAUSED), (Action.STOPPED, Action.RESUMED),
                                         (Action.STOPPED, Action.PAUSED), (None, Action.RESUMED)])
def test_a_move_from_the_wrong_state_is_refused_and_changes_nothing(control, first, then):
    control, store, trail = control
    if first is not None:
        assert control.change("roam", first, "ann").accepted
    before, recorded = store.items["roam"][1], len(trail)
    result = control.change("roam", then, "ann")
    assert not result.accepted and "cannot be" in result.message
    assert store.items["roam"][1] == before and len(trail) == recorded


def test_an_unknown_campaign_or_an_unnamed_user_is_refused(control):
    control, store, trail = control
    assert not control.change("nope", Action.PAUSED, "ann").accepted
    assert not control.change("roam", Action.PAUSED, " \u200b").accepted
    assert trail == [] and store.items["roam"][1] == "active"
