"""Every AWS call a function's handler makes in the integration suite, as IAM sees it: (action, resource).

The local emulator runs each real handler in this process and names the function whose handler is
running (marketing_tools.emulator.handlers.current_function); the recorder wraps botocore's one
entry point for API calls, so whatever a handler calls, through any client, is recorded under its
function. Calls a test makes itself (setting up tables, reading results) belong to no function.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any
from email.utils import parseaddr
from urllib.parse import urlparse

import botocore.client

from marketing_tools.emulator.handlers import current_function

# IAM's action where it is not the operation's name: a batch is authorised as its single action
_ACTIONS = {("sqs", "SendMessageBatch"): "sqs:SendMessage", ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
            ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
            ("sns", "PublishBatch"): "sns:Publish", ("dynamodb", "TransactGetItems"): "dynamodb:GetItem"}
# a transaction is authorised item by item, as the item's own action
_TRANSACT = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
             "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}
_SERVICE_PREFIX = {"sesv2": "ses", "stepfunctions": "states", "events": "events"}

# function -> {(action, resource)}; a resource of several names (an SES identity: the address or its
# domain) is a tuple of them, authorised when any one is
calls: dict[str, set[tuple[str, str | tuple[str, ...]]]] = defaultdict(set)


def authorised_as(service: str, operation: str, params: dict[str, Any], region: str,
                  account: str) -> list[tuple[str, str | tuple[str, ...]]]:
    """What IAM authorises a call as: (action, resource) pairs."""
    prefix = _SERVICE_PREFIX.get(service, service)
    if prefix == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return [(_TRANSACT[kind], f"arn:aws:dynamodb:{region}:{account}:table/{body['TableName']}")
                for item in params["TransactItems"] for kind, body in item.items()]
    action, targets = _action_and_resources(prefix, operation, params, region, account)
    return [(action, target) for target in targets]


def _action_and_resources(prefix: str, operation: str, params: dict[str, Any], region: str,
                          account: str) -> tuple[str, list[str | tuple[str, ...]]]:
    action = _ACTIONS.get((prefix, operation), f"{prefix}:{operation}")
    arn = f"arn:aws:{prefix}:{region}:{account}"
    if prefix == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
        return action, [f"{arn}:table/{table}{index}" for table in tables]
    if prefix == "sqs":
        return action, [f"{arn}:{urlparse(params['QueueUrl']).path.rstrip('/').rsplit('/', 1)[-1]}"]
    if prefix == "kinesis":
        stream = params.get("StreamARN") or (f"{arn}:stream/{params['StreamName']}" if "StreamName" in params
                                             else _iterator_streams.get(params.get("ShardIterator"), "unknown"))
        return action, [stream]
    if prefix == "firehose":
        return action, [f"arn:aws:firehose:{region}:{account}:deliverystream/{params['DeliveryStreamName']}"]
    if prefix == "sns":
        target = params.get("TopicArn") or params.get("TargetArn")
        return action, [target or "*"]          # straight to a phone number: no resource
    if prefix == "s3" and operation == "ListObjectsV2":
        return "s3:ListBucket", [f"arn:aws:s3:::{params['Bucket']}"]
    if prefix == "s3":
        key = f"/{params['Key']}" if "Key" in params else ""
        return action, [f"arn:aws:s3:::{params['Bucket']}{key}"]
    if prefix == "secretsmanager":
        return action, [params["SecretId"]]
    if prefix == "states":
        machine = params.get("stateMachineArn") or params.get("executionArn")
        if machine is None and "taskToken" in params:
            # a token names no state machine: it is authorised against the one whose task issued it,
            # which here is whichever of the stack's machines that is (all are waited on by tokens)
            return action, [tuple(f"arn:aws:states:{region}:{account}:stateMachine:{name}"
                                  for name in _state_machine_names())]
        return action, [machine or "*"]
    if prefix == "ses":
        sender = parseaddr(params.get("Source") or params.get("FromEmailAddress") or "")[1]
        domain = sender.rsplit("@", 1)[-1]
        return action, [(f"arn:aws:ses:{region}:{account}:identity/{domain}",
                         f"arn:aws:ses:{region}:{account}:identity/{sender}")]
    return action, ["*"]


def _state_machine_names() -> list[str]:
    from marketing import resources
    return [resources.physical_name("marketing", m.logical) for m in resources.STATE_MACHINES]


_original = botocore.client.BaseClient._make_api_call
_iterator_streams: dict[str, str] = {}   # a shard iterator -> the stream it reads (GetRecords names no stream)


def _recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
    function = current_function.get()
    service = self.meta.service_model.service_name
    if function is not None:
        try:
            calls[function].update(authorised_as(service, operation_name, api_params, self.meta.region_name,
                                                 "123456789012"))
        except Exception as error:  # noqa: BLE001 - the recorder never breaks a call; the check names it
            calls[function].add((f"{service}:{operation_name}", f"unreadable call: {error!r}"))
    result = _original(self, operation_name, api_params)
    if service == "kinesis" and operation_name in ("GetShardIterator", "GetRecords"):
        stream = (api_params.get("StreamARN") or api_params.get("StreamName")
                  or _iterator_streams.get(api_params.get("ShardIterator"), "unknown"))
        if "arn:" not in stream and stream != "unknown":
            stream = f"arn:aws:kinesis:{self.meta.region_name}:123456789012:stream/{stream}"
        for iterator in (result.get("ShardIterator"), result.get("NextShardIterator")):
            if iterator:
                _iterator_streams[iterator] = stream
    return result


def start() -> None:
    botocore.client.BaseClient._make_api_call = _recording  # type: ignore[method-assign]


def save() -> None:
    """What each function called, for whoever declares its `calls` in resources.py (build/aws-calls.json)."""
    import json
    from pathlib import Path
    out = Path(__file__).resolve().parents[2] / "build" / "aws-calls.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({f: sorted(map(list, made), key=str) for f, made in sorted(calls.items())},
                              indent=1, default=list))


def stop() -> None:
    botocore.client.BaseClient._make_api_call = _original  # type: ignore[method-assign]
