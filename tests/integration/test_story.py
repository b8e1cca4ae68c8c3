"""The demo's story on the real paths: approval workflow, the decision path with a 30% holdout,
seeded synthetic conversions with a known true uplift, the evaluation state machine — and the
measured lift's 95% interval contains the true uplift."""
from __future__ import annotations

from marketing_tools.demo.story import (
    UpliftModel,
    evaluate_now,
    interval_contains_truth,
    record_conversions,
    story_campaign,
    story_events,
    submit_and_approve,
)
from tests.integration.world import a_profile

CUSTOMERS = 600


def test_the_measured_lift_interval_contains_the_true_uplift(flows):
    world, desk = flows
    customers = [f"86139{i:08d}" for i in range(CUSTOMERS)]
    world.add_profiles(*[a_profile(c) for c in customers])
    world.start()

    approval = submit_and_approve(desk, story_campaign(), submitter="marketer",
                                  approvers=("marketer", "approver-1", "approver-2"),
                                  evaluate_after_seconds=0)   # the workflow's own evaluation runs at once
    assert approval.decisions[0].accepted is False                       # the submitter's own approval
    assert approval.status == "live", approval
    assert approval.estimate["events_replayed"] == 0

    events = story_events(customers)
    for start in range(0, CUSTOMERS, 250):
        world.publish(*events[start:start + 250])
    world.run()

    model = UpliftModel(base_rate=0.10, uplift=0.10, seed=11)
    conversions = record_conversions(world.client, world.env, "story-roaming", model)
    assert conversions.treated + conversions.control == CUSTOMERS
    assert 0.2 < conversions.control / CUSTOMERS < 0.4                    # the campaign's 30% holdout

    report = evaluate_now(desk, "story-roaming")
    assert report["groups"]["treated"]["customers"] == conversions.treated
    assert report["groups"]["control"]["converters"] == conversions.control_converted
    low, high = report["lift"]["absolute_ci"]
    assert interval_contains_truth(report, model), (low, high, model.uplift)
    assert low > 0                                                        # and the campaign measurably works
