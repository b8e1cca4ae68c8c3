"""Reading the synthesized template: the Synth record and reference helpers (used by tests/infra)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
