"""One declaration per function (resources.Function.uses: a resource and a mode) gives, in the synthesized
template, exactly its resource environment variables (= its settings model's required fields) and
exactly its grants: each use allows what its mode says and no more; nothing unused is touched."""
from __future__ import annotations

import pytest

from tests.infra.helpers import mentions
from tests.infra.test_iam import _listed, _statements, allows
from marketing import resources
from marketing.resources import Access
from marketing.settings import settings_model

ALL_FUNCTIONS = (*resources.FUNCTIONS, *resources.WORKFLOW_FUNCTIONS)
DESCRIBED = (*resources.TABLES, *resources.STREAMS, *resources.QUEUES, *resources.BUCKETS,
             *resources.DELIVERY_STREAMS, *resources.TOPICS)

# (kind, mode) → (actions the grant must allow, actions it must not)
_TABLE_READ = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")
_TABLE_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
EXPECTED = {
    (resources.Table, Access.READ): (_TABLE_READ, _TABLE_WRITE),
    (resources.Table, Access.WRITE): (_TABLE_WRITE, _TABLE_READ),
    (resources.Table, Access.READ_WRITE): (_TABLE_READ + _TABLE_WRITE, ()),
    (resources.Stream, Access.READ): (("kinesis:GetRecords", "kinesis:GetShardIterator"), ("kinesis:PutRecords",)),
    (resources.Stream, Access.WRITE): (("kinesis:PutRecord", "kinesis:PutRecords"), ("kinesis:GetRecords",)),
    (resources.Queue, Access.SEND): (("sqs:SendMessage",), ("sqs:ReceiveMessage", "sqs:DeleteMessage")),
    (resources.Queue, Access.CONSUME): (("sqs:ReceiveMessage", "sqs:DeleteMessage"), ("sqs:SendMessage",)),
    (resources.DeliveryStream, Access.PUT): (("firehose:PutRecordBatch", "firehose:PutRecord"), ()),
    (resources.Bucket, Access.READ): (("s3:GetObject", "s3:ListBucket"), ("s3:PutObject", "s3:DeleteObject")),
    (resources.Bucket, Access.WRITE): (("s3:PutObject",), ("s3:GetObject", "s3:DeleteObject")),
    (resources.Bucket, Access.READ_WRITE): (("s3:GetObject", "s3:PutObject"), ()),
    (resources.Topic, Access.PUBLISH): (("sns:Publish",), ()),
}


def _logical_id(synth, spec) -> str:
    """Every described resource is a stack output whose value is a Ref of the deployed resource."""
    return synth.raw["Outputs"][spec.env.replace("_", "")]["Value"]["Ref"]


def _granted_by_its_trigger(function: resources.Function) -> set[str]:
    """What the event source (not `uses`) grants: the polled stream or queue, its failure destination."""
    source = function.source
    if isinstance(source, resources.StreamMapping):
        return {source.stream, source.on_failure_queue}
    if isinstance(source, resources.QueueMapping):
        return {source.queue}
    if isinstance(source, resources.TopicSubscription):
        return {source.dead_letter}
    return set()


@pytest.fixture(scope="module")
def policy(synth):
    return {f.logical: _statements(synth, f.logical) for f in ALL_FUNCTIONS}


def test_every_mode_a_resource_kind_allows_is_checked_here():
    declared = {(kind, mode) for kind in (resources.Table, resources.Stream, resources.Queue, resources.Bucket,
                                          resources.DeliveryStream, resources.Topic) for mode in kind.modes}
    assert declared == set(EXPECTED)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.logical)
def test_the_settings_models_resource_fields_are_the_env_vars_the_stack_sets(synth, function):
    env = synth.props(synth.function(function.logical))["Environment"]["Variables"]
    model = settings_model(function)
    required = {field.validation_alias for field in model.model_fields.values() if field.is_required()}
    described_envs = {spec.env for spec in DESCRIBED}
    assert required == set(env) & described_envs, function.logical
    assert required == {use.resource.env for use in function.uses}
    for use in function.uses:
        assert mentions(env[use.resource.env], _logical_id(synth, use.resource)), (function.logical, use)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.logical)
def test_each_use_is_granted_its_mode_and_no_more(synth, policy, function):
    statements = policy[function.logical]
    by_trigger = _granted_by_its_trigger(function)
    for use in function.uses:
        target = _logical_id(synth, use.resource)
        allowed, refused = EXPECTED[(type(use.resource), use.mode)]
        if use.calls:   # exactly the calls it names: the rest of the mode's family is refused
            prefix = allowed[0].split(":")[0]
            family = {f"{prefix}:{a}" for a in resources.ACTIONS[(type(use.resource), use.mode)]}
            allowed = tuple(f"{prefix}:{call}" for call in use.calls)
            refused = tuple(sorted(set(refused) | (family - set(allowed))))
        for action in allowed:
            assert allows(statements, action, target), (function.logical, use.resource.logical, action)
        if use.resource.logical in by_trigger:
            continue   # e.g. deliver sends to the queue it consumes: the trigger adds the consumer's actions
        for action in refused:
            assert not allows(statements, action, target), (function.logical, use.resource.logical, action)


@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.logical)
def test_nothing_it_does_not_use_is_granted(synth, policy, function):
    used = {_logical_id(synth, use.resource) for use in function.uses}
    by_trigger = _granted_by_its_trigger(function)
    for spec in DESCRIBED:
        target = _logical_id(synth, spec)
        if target in used or (spec.logical in by_trigger and isinstance(spec, (resources.Stream, resources.Queue))):
            continue
        touching = [s for s in policy[function.logical]
                    if any(mentions(resource, target) for resource in _listed(s["Resource"]))]
        assert not touching, (function.logical, spec.logical, touching)
