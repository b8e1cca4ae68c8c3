"""One source of truth: every resource in marketing.resources is deployed with the same names, keys,
TTL and queue settings, its name is a stack output, and each function gets the env vars it uses."""
from __future__ import annotations

import pytest

from tests.infra.helpers import refers_to
from marketing import resources

TYPES = {"S": "S", "N": "N", "B": "B"}


@pytest.mark.parametrize("table", resources.TABLES, ids=lambda t: t.logical)
def test_table(synth, table):
    props = synth.props(synth.table(table.logical))
    keys = [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
    if table.sort:
        keys.append({"AttributeName": table.sort.name, "KeyType": "RANGE"})
    assert props["KeySchema"] == keys
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    for key in (table.partition, table.sort, *[k for i in table.indexes for k in (i.partition, i.sort)]):
        if key:
            assert types[key.name] == TYPES[key.type], key
    if table.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {i.name for i in table.indexes}
    for index in table.indexes:
        assert indexes[index.name]["KeySchema"][0] == {"AttributeName": index.partition.name, "KeyType": "HASH"}


@pytest.mark.parametrize("stream", resources.STREAMS, ids=lambda s: s.logical)
def test_stream(synth, stream):
    props = synth.props(synth.stream(stream.logical))
    assert props["ShardCount"] == stream.shards
    assert props["RetentionPeriodHours"] == stream.retention_hours


@pytest.mark.parametrize("queue", resources.QUEUES, ids=lambda q: q.logical)
def test_queue(synth, queue):
    props = synth.props(synth.queue(queue.logical))
    assert props["VisibilityTimeout"] == queue.visibility_timeout_s
    assert props["MessageRetentionPeriod"] == queue.retention_s
    assert ("RedrivePolicy" in props) == (queue.dead_letter is not None)


@pytest.mark.parametrize("spec", resources.DELIVERY_STREAMS, ids=lambda d: d.logical)
def test_delivery_stream(synth, spec):
    s3 = synth.props(synth.delivery_stream(spec.logical))["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == spec.prefix
    assert s3["BufferingHints"] == {"IntervalInSeconds": spec.buffer_interval_s, "SizeInMBs": spec.buffer_size_mb}
    bucket_env = next(b.env for b in resources.BUCKETS if b.logical == spec.bucket)
    bucket_id = synth.raw["Outputs"][bucket_env.replace("_", "")]["Value"]["Ref"]
    assert refers_to(s3["BucketARN"], bucket_id)


def test_every_described_resource_is_deployed(synth):
    counts = {"AWS::DynamoDB::Table": resources.TABLES, "AWS::Kinesis::Stream": resources.STREAMS,
              "AWS::SQS::Queue": resources.QUEUES, "AWS::KinesisFirehose::DeliveryStream": resources.DELIVERY_STREAMS,
              "AWS::Lambda::Function": (*resources.FUNCTIONS, *resources.WORKFLOW_FUNCTIONS),
              "AWS::SNS::Topic": (*resources.TOPICS, "ops"), "AWS::StepFunctions::StateMachine": resources.STATE_MACHINES}
    for type_, described in counts.items():
        assert len(synth.resources(type_)) == len(described), type_   # nothing undescribed either
    # Data buckets plus the one access-log bucket.
    assert len(synth.resources("AWS::S3::Bucket")) == len(resources.BUCKETS) + 1


DESCRIBED = [*resources.TABLES, *resources.STREAMS, *resources.QUEUES, *resources.BUCKETS,
             *resources.DELIVERY_STREAMS]


@pytest.mark.parametrize("spec", DESCRIBED, ids=lambda r: f"{type(r).__name__}:{r.logical}")
def test_output_per_resource(synth, spec):
    """The CLI finds a deployed stack's resources by output: key = env var without '_', description = env var."""
    output = synth.raw["Outputs"][spec.env.replace("_", "")]
    assert output["Description"] == spec.env
    assert "Export" not in output
    deployed = {resources.Table: synth.table, resources.Stream: synth.stream, resources.Queue: synth.queue,
                resources.DeliveryStream: synth.delivery_stream}.get(type(spec))
    if deployed:
        assert refers_to(output["Value"], deployed(spec.logical))   # Ref = name, or URL for a queue


@pytest.mark.parametrize("function", (*resources.FUNCTIONS, *resources.WORKFLOW_FUNCTIONS), ids=lambda f: f.logical)
def test_function(synth, function):
    props = synth.props(synth.function(function.logical))
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "handler.handler"
    assert props["MemorySize"] == function.memory_mb
    assert props["Timeout"] == function.timeout_s
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Architectures"] == ["x86_64"]
    (layer,) = props["Layers"]
    assert refers_to(layer, synth.only("AWS::Lambda::LayerVersion"))
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == function.logical
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "EventMarketing"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert "CATALOG_PATH" not in env          # the catalog is the runtime package's data, in the layer
    assert env["RESOURCE_PREFIX"] == synth.stack_name
    for use in function.uses:
        spec = use.resource
        output = synth.raw["Outputs"][spec.env.replace("_", "")]
        assert env[spec.env] == output["Value"], (function.logical, spec.env)
    described_envs = {s.env for s in (*DESCRIBED, *resources.TOPICS)}
    granted = {u.resource.env for u in function.uses}
    assert not (described_envs & set(env)) - granted, "no env var for a resource the function does not use"


def test_layer_carries_package_and_catalog(synth):
    layer = synth.props(synth.only("AWS::Lambda::LayerVersion"))
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["x86_64"]
    asset = synth.outdir / f"asset.{layer['Content']['S3Key'].removesuffix('.zip')}"
    assert (asset / "python" / "marketing" / "resources.py").is_file()
    assert (asset / "python" / "marketing" / "data" / "catalog.yaml").is_file()   # package data
    assert not (asset / "python" / "marketing_tools").exists()                   # the tools never ride along
