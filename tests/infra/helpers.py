"""Reading the synthesized template: the Synth record and reference helpers (used by tests/infra)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy

from marketing import resources

STACK_NAME = "mkt-test"   # not the default, so prefixing is exercised


@dataclass
class Synth:
    stack_name: str
    template: Any              # aws_cdk.assertions.Template
    raw: dict                  # the same template as a dict
    metadata: dict             # the stack's construct metadata (acknowledgements live here)
    report: dict               # the policy-validation report (cdk-nag is one of its plugins)
    outdir: Path               # the cloud assembly (assets included)
    seconds: float

    def resources(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == type_}

    def props(self, logical_id: str) -> dict:
        return self.raw["Resources"][logical_id].get("Properties", {})

    def only(self, type_: str) -> str:
        found = list(self.resources(type_))
        assert len(found) == 1, f"expected one {type_}, found {found}"
        return found[0]

    def by_property(self, type_: str, name: str, value: Any) -> str:
        """The logical id of the one resource of `type_` whose property `name` equals `value`."""
        found = [k for k, v in self.resources(type_).items() if v.get("Properties", {}).get(name) == value]
        assert len(found) == 1, f"expected one {type_} with {name}={value!r}, found {found}"
        return found[0]

    # --- the deployed resource of a resources.py description, by its physical name -----------

    def name(self, logical: str) -> str:
        return f"{self.stack_name}-{logical}"

    def table(self, logical: str) -> str:
        return self.by_property("AWS::DynamoDB::Table", "TableName", self.name(logical))

    def stream(self, logical: str) -> str:
        return self.by_property("AWS::Kinesis::Stream", "Name", self.name(logical))

    def queue(self, logical: str) -> str:
        return self.by_property("AWS::SQS::Queue", "QueueName", self.name(logical))

    def function(self, logical: str) -> str:
        return self.by_property("AWS::Lambda::Function", "FunctionName", self.name(logical))

    def delivery_stream(self, logical: str) -> str:
        return self.by_property("AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName", self.name(logical))

    def key(self) -> str:
        return self.only("AWS::KMS::Key")


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether a template value is a Ref or a Fn::GetAtt of `logical_id`."""
    return value == {"Ref": logical_id} or (
        isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list)
        and value["Fn::GetAtt"][0] == logical_id)


def mentions(value: Any, logical_id: str) -> bool:
    """Whether `logical_id` is referenced anywhere inside a template value (Fn::Join etc.)."""
    return f'"{logical_id}"' in json.dumps(value)


# ---------------------------------------------------------------- the template read as the local stack

REGION, ACCOUNT, LOCAL_PREFIX = "us-east-1", "123456789012", "marketing"   # moto's account, the emulator's prefix

_NAME_PROPERTY = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::Kinesis::Stream": "Name",
                  "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName", "AWS::SNS::Topic": "TopicName",
                  "AWS::S3::Bucket": "BucketName", "AWS::StepFunctions::StateMachine": "StateMachineName",
                  "AWS::Lambda::Function": "FunctionName", "AWS::SecretsManager::Secret": "Name"}


class LocalArns:
    """The template's references read as the local stack's ARNs (same names, `marketing-` for the stack's)."""

    def __init__(self, synth) -> None:
        self.synth = synth

    def name(self, logical_id: str) -> str:
        resource = self.synth.raw["Resources"][logical_id]
        name = resource.get("Properties", {}).get(_NAME_PROPERTY.get(resource["Type"], ""))
        if isinstance(name, str):
            return name.replace(f"{self.synth.stack_name}-", f"{LOCAL_PREFIX}-", 1)
        if resource["Type"] == "AWS::S3::Bucket":   # named by CloudFormation: the local bucket of its construct
            for bucket in resources.BUCKETS:
                if "".join(p.capitalize() for p in bucket.logical.split("-")) + "Bucket" in logical_id:
                    return resources.physical_name(LOCAL_PREFIX, bucket.logical)
        return f"unresolved-{logical_id}"

    def arn(self, logical_id: str, attribute: str = "Arn") -> str:
        resource = self.synth.raw["Resources"][logical_id]
        kind, name = resource["Type"], self.name(logical_id)
        base = f"{REGION}:{ACCOUNT}"
        arns = {"AWS::DynamoDB::Table": f"arn:aws:dynamodb:{base}:table/{name}",
                "AWS::SQS::Queue": f"arn:aws:sqs:{base}:{name}",
                "AWS::Kinesis::Stream": f"arn:aws:kinesis:{base}:stream/{name}",
                "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{base}:deliverystream/{name}",
                "AWS::SNS::Topic": f"arn:aws:sns:{base}:{name}",
                "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
                "AWS::StepFunctions::StateMachine": f"arn:aws:states:{base}:stateMachine:{name}",
                "AWS::Lambda::Function": f"arn:aws:lambda:{base}:function:{name}",
                "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{base}:secret:{name}-*"}
        arn = arns.get(kind, f"arn:aws:unresolved:{base}:{logical_id}")
        return f"{arn}/stream/*" if attribute == "StreamArn" else arn

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str):   # a name written into an ARN by the stack (format_arn): the local one
            return value.replace(f"{self.synth.stack_name}-", f"{LOCAL_PREFIX}-")
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            ref = value["Ref"]
            pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": LOCAL_PREFIX}
            if ref in pseudo:
                return pseudo[ref]
            kind = self.synth.raw["Resources"][ref]["Type"]
            by_arn = ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SecretsManager::Secret")
            return self.arn(ref) if kind in by_arn else self.name(ref)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.arn(logical_id, attribute)
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        if any(key.startswith("Fn::") for key in value):
            raise AssertionError(f"cannot read {value} as a local ARN")
        return {key: self.resolve(v) for key, v in value.items()}

    def policy(self, statements: list[dict]) -> IAMPolicy:
        return IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": self.resolve(
            [{k: v for k, v in s.items() if k != "Condition"} for s in statements])}))
