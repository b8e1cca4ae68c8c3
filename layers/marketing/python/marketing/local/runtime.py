"""The local runtime: moto's server on 127.0.0.1, the real handlers, and event-source pollers.

The pollers do what Lambda's event-source mappings do, with the settings of `marketing.resources`:
Kinesis batches per shard with ReportBatchItemFailures (resume from the lowest failed sequence
number, bounded retries, bisect on error, then the on-failure queue) and SQS batches (failed
messages stay on the queue and come back; the queue's redrive moves them to its DLQ).
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import boto3

from marketing import resources as r
from marketing.local.stack import ACCOUNT, REGION, create_stack

ROOT = Path(__file__).resolve().parents[5]  # repo root (layers/marketing/python/marketing/local → root)


def repo_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


class CallCounter:
    """Counts AWS API calls made through boto3's default session (the handlers' clients)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.enabled = True

    def __call__(self, model: Any = None, **_: Any) -> None:
        if self.enabled and model is not None:
            with self._lock:
                self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class LocalContext:
    """What a handler reads from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 60
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def _keep_alive() -> None:
    """Werkzeug's development server answers every request with `Connection: close` (http.server
    cannot drain a request body the application left unread), so each AWS call paid a TCP connect
    and a new server thread: a third of a demo's time. Here the handler reads each request's body
    whole before the application runs, hides the socket from werkzeug's after-request drain (which
    would swallow the next request), and keeps HTTP/1.1 connections open for requests that carry
    their length (all of boto3's). Local emulator only."""
    import io

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    make_environ, send_header, run_wsgi = (
        MotoRequestHandler.make_environ, MotoRequestHandler.send_header, MotoRequestHandler.run_wsgi)

    def read_whole_body(self: Any) -> dict[str, Any]:
        environ = make_environ(self)
        length = self.headers.get("Content-Length")
        if (self.request_version == "HTTP/1.1" and "Transfer-Encoding" not in self.headers
                and (length is None or length.isdigit())):
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)) if length else b"")
            self._connection_rfile, self.rfile = self.rfile, io.BytesIO()  # nothing left to drain
        return environ

    def keep_open(self: Any, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and "_connection_rfile" in vars(self):
            return  # the request was read whole: the connection can serve the next one
        send_header(self, keyword, value)

    def serve(self: Any) -> None:
        try:
            run_wsgi(self)
        finally:
            if "_connection_rfile" in vars(self):
                self.rfile = vars(self).pop("_connection_rfile")

    MotoRequestHandler.protocol_version = "HTTP/1.1"
    MotoRequestHandler.disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    MotoRequestHandler.make_environ = read_whole_body  # type: ignore[method-assign]
    MotoRequestHandler.send_header = keep_open  # type: ignore[method-assign]
    MotoRequestHandler.run_wsgi = serve  # type: ignore[method-assign]


def _linear_sqs_receive() -> None:
    """moto 5.2's ReceiveMessage checks each message it hands out against the queue's retention by
    computing *all* the queue's attributes, which counts every message in the queue: quadratic in
    the contacts held back (delayed) on the delivery queue, minutes of a demo's run. Read the one
    attribute instead; list and count messages with one clock reading per call, not one per message
    (SendMessage still counts them all). Same answers; local emulator only."""
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Queue, SQSBackend

    def within_retention(self: SQSBackend, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    def messages(self: Queue) -> list[Any]:
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Queue) -> int:  # counted on every SendMessage too (moto reads all attributes for one)
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Queue) -> int:
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    SQSBackend.is_message_valid_based_on_retention_period = within_retention  # type: ignore[method-assign]
    Queue.messages = property(messages)  # type: ignore[assignment]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment]


def _partition_query() -> None:
    """moto 5.2 answers a Query on a table's key by listing and sorting *every* item of the table,
    then keeping the partition asked for: quadratic in a table (contacts, offers, responses) that
    the run keeps filling. Here such a Query lists its one partition (the items under its hash key,
    which moto keeps apart); queries on an index keep moto's own path. Local emulator only."""
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    scope = threading.local()

    def partition_items(self: Table) -> list[Any]:
        asked = getattr(scope, "partition", None)
        if asked is None or asked[0] is not self:
            return all_items(self)
        found = self.items.get(asked[1])
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]

    def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        scope.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            scope.partition = None

    Table.query = partition_query  # type: ignore[method-assign]
    Table.all_items = partition_items  # type: ignore[method-assign]


def _indexed_shards() -> None:
    """moto 5.2 finds a shard's newest sequence number by copying all its keys (on every record put)
    and answers GetRecords by walking the shard from its first record: both grow with the stream, so
    a demo's 100,000 records cost minutes. Here the newest key is read from the end, and GetRecords
    bisects a list of the keys kept beside the shard (records are only ever appended, with rising
    sequence numbers). Same records, same order; local emulator only. A record's arrival time is a
    datetime from moto 5.2.6 on and seconds before it: both are read."""
    from bisect import bisect_right

    from moto.kinesis.models import Shard

    def newest(self: Shard) -> int:
        return next(reversed(self.records)) if self.records else 0

    def oldest(self: Shard) -> int:
        return next(iter(self.records)) if self.records else 0

    def get_records(self: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        keys = vars(self).get("_marketing_keys")
        if keys is None or len(keys) != len(self.records) or (keys and keys[-1] != newest(self)):
            keys = self._marketing_keys = list(self.records)
        last = int(last_sequence_id)
        start = bisect_right(keys, last)
        taken = keys[start:] if limit is None else keys[start:start + limit]
        if not taken:
            return [], last, 0
        records = [self.records[k] for k in taken]
        behind = self.records[keys[-1]].created_at - records[-1].created_at
        seconds = behind.total_seconds() if hasattr(behind, "total_seconds") else behind
        return records, taken[-1], int(seconds * 1000)

    Shard.get_records = get_records  # type: ignore[method-assign]
    Shard.get_max_sequence_number = newest  # type: ignore[method-assign]
    Shard.get_min_sequence_number = oldest  # type: ignore[method-assign]


def _cached_dispatch() -> None:
    """moto 5.2's server finds the backend of every request by listing its own package directory
    (os.listdir and an isdir per service, ~300 of them) and then matching the host against every
    service's URL patterns: a sixth of a simple call's time on the server. The services a host maps
    to do not change while the server runs, so each host is looked up once; likewise the action
    methods of a response class, which moto lists with inspect.getmembers on every call. Local
    emulator only."""
    import moto.core.responses
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)

    find = DomainDispatcherApplication.get_backend_for_host
    found: dict[str | None, Any] = {}

    def backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        try:
            return found[host]
        except KeyError:
            found[host] = backend = find(self, host)  # called under the dispatcher's lock
            return backend

    DomainDispatcherApplication.get_backend_for_host = backend_for_host  # type: ignore[method-assign]


def _plain_dynamodb_json() -> None:
    """moto 5.2 turns each DynamoDB answer (already plain JSON types: items as attribute-value maps)
    into its body by walking the operation's output shape member by member, a tenth of the demo's
    server time. An answer that is plain JSON is written with json.dumps instead, which gives the
    client the same parsed result (members without a value are skipped by botocore either way);
    anything else (binary values as bytes, timestamps as datetimes) keeps moto's serializer.
    Local emulator only."""
    import json

    from moto.dynamodb.responses import DynamoResult

    execute_result = DynamoResult.execute_result

    def plain(self: DynamoResult, context: Any) -> Any:
        try:
            body = json.dumps(self.result)
        except (TypeError, ValueError):
            return execute_result(self, context)
        version = context.service_model.metadata.get("jsonVersion", "1.0")
        return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body

    DynamoResult.execute_result = plain  # type: ignore[method-assign]


def _parsed_once() -> None:
    """moto 5.2 parses each DynamoDB update and condition expression from its text on every call,
    twice per UpdateItem (once to check the names and values it uses, once to apply it): a quarter
    of an UpdateItem's time, and the decision path sends the same few expressions all day. An
    update expression's tree is kept per text (moto deep-copies it before resolving names and values
    into it) and a condition expression's tokens likewise (fresh nodes each call; names and values
    are still resolved per call). Same trees, same errors; local emulator only."""
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    trees: dict[str, Any] = {}

    def make_once(cls: type, expression: str) -> Any:
        if cls is not UpdateExpressionParser:
            return make(cls, expression)
        tree = trees.get(expression)
        if tree is None:
            tree = trees[expression] = make(cls, expression)  # an invalid expression raises, uncached
        return tree

    lex = ConditionExpressionParser._lex_condition_expression
    tokens: dict[str, tuple[Any, ...]] = {}

    def lex_once(self: ConditionExpressionParser) -> Any:
        expression = self.condition_expression
        found = tokens.get(expression)  # type: ignore[arg-type]
        if found is None:
            found = tokens[expression] = tuple(lex(self))  # type: ignore[index]
        return deque(node._replace(children=[]) for node in found)  # lexed nodes have no children

    UpdateExpressionParser.make = classmethod(make_once)  # type: ignore[method-assign,assignment]
    ConditionExpressionParser._lex_condition_expression = lex_once  # type: ignore[method-assign]


@functools.cache
def _fix_moto() -> None:
    """The emulator's fixes to moto's server, once per process (each wraps or replaces moto's own method)."""
    _keep_alive()
    _linear_sqs_receive()
    _partition_query()
    _indexed_shards()
    _cached_dispatch()
    _plain_dynamodb_json()
    _parsed_once()


# endpoint -> the WSGI application its server runs, for this process's own clients (see _send_in_process)
_IN_PROCESS: dict[str, Any] = {}
_IN_PROCESS_LOCK = threading.Lock()


def _send_in_process(request: Any, **_: Any) -> Any:
    """botocore's `before-send` hook: a request this process makes to one of its own emulators is
    handed to that server's WSGI application directly (the same application, fixes and backends
    that answer over HTTP) instead of through a loopback socket. The socket, HTTP framing and header
    parsing on both ends were half of a local call's time. Other processes (the CLI beside
    `marketing local up`, a browser on the offer API) still reach the server over HTTP. Returning
    None leaves any other request to botocore. Local emulator only."""
    url = request.url
    for endpoint, app in list(_IN_PROCESS.items()):
        if url == endpoint or url.startswith(endpoint + "/"):
            break
    else:
        return None
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.test import EnvironBuilder

    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    headers = [(k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in request.headers.items()]
    environ = EnvironBuilder(path=url[len(endpoint):] or "/", base_url=endpoint, method=request.method,
                             headers=headers, data=body or b"").get_environ()
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), dict(response_headers)

    chunks = app(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return AWSResponse(url, answer["status"], answer["headers"], MockRawResponse(data))


@functools.cache
def _hook_in_process_sends() -> None:
    """Every botocore session made from now on, and boto3's default one, send through
    _send_in_process first (a client takes its session's hooks when it is made)."""
    import botocore.handlers

    botocore.handlers.BUILTIN_HANDLERS.append(("before-send", _send_in_process))
    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION.events.register("before-send", _send_in_process)


class Emulator:
    """moto's ThreadedMotoServer on a free port of 127.0.0.1, with every resource created.

    With `in_process` (the default), this process's own boto3 clients reach the server's application
    without a socket (_send_in_process); the server answers other processes over HTTP as usual."""

    def __init__(self, prefix: str = "marketing", port: int = 0, in_process: bool = True):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        _fix_moto()

        self.prefix = prefix
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        host, bound = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{bound}"
        self.env: dict[str, str] = {}
        if in_process:
            _hook_in_process_sends()
            with _IN_PROCESS_LOCK:
                _IN_PROCESS[self.endpoint] = self._server._server.app  # the app its HTTP server runs

    def configure_process(self) -> None:
        """Point this process's boto3 at the emulator (what the handlers read at cold start)."""
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
        })
        boto3.setup_default_session(region_name=REGION)

    def create(self) -> dict[str, str]:
        self.configure_process()
        # the state machines run in this process's moto server: executed, calling back on its port,
        # their task functions being the real handlers (marketing.local.workflows)
        from marketing.local import workflows

        os.environ["MOTO_PORT"] = self.endpoint.rsplit(":", 1)[1]
        workflows.enable_execution()
        self.env = create_stack(self.endpoint, self.prefix)
        workflows.run_real_handlers(self.env, self.prefix)
        return self.env

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def stop(self) -> None:
        with _IN_PROCESS_LOCK:
            _IN_PROCESS.pop(self.endpoint, None)
        self._server.stop()


def handler_env(stack_env: dict[str, str], function: r.Function) -> dict[str, str]:
    return {
        **stack_env,
        "CATALOG_PATH": str(repo_path("events", "catalog.yaml")),
        "CONTACT_POLICY_PATH": os.environ.get("CONTACT_POLICY_PATH", str(repo_path("events", "contact_policy.yaml"))),
        "POWERTOOLS_SERVICE_NAME": function.logical,
        "POWERTOOLS_METRICS_NAMESPACE": "EventMarketing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("MARKETING_LOG_LEVEL", "ERROR"),
        "CAMPAIGN_CACHE_SECONDS": os.environ.get("CAMPAIGN_CACHE_SECONDS", "2"),
        "TOUCHPOINTS_PATH": str(repo_path("events", "touchpoints.yaml")),
    }


def load_handler(function: r.Function, env: dict[str, str]) -> Callable[[dict, Any], dict]:
    """Import functions/<dir>/handler.py as a fresh module (a cold start) with its environment set."""
    # metrics are disabled locally, so Powertools' "no metrics to publish" warning is noise here
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.update(handler_env(env, function))
    path = repo_path("functions", function.handler_dir, "handler.py")
    name = f"local_handler_{function.logical}_{uuid.uuid4().hex[:6]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.handler


class KinesisPoller:
    """One stream's event-source mapping: per shard, batches in order, partial failures honoured."""

    def __init__(self, kinesis: Any, sqs: Any, stream_name: str, mapping: r.StreamMapping,
                 handler: Callable[[dict, Any], dict], function: str, on_failure_url: str):
        self._kinesis, self._sqs, self._stream, self._mapping = kinesis, sqs, stream_name, mapping
        self._handler, self._function, self._on_failure_url = handler, function, on_failure_url
        description = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
        self._arn = description["StreamARN"]
        self._iterators: dict[str, str | None] = {}
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            self._iterators[shard["ShardId"]] = kinesis.get_shard_iterator(
                StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType=mapping.starting_position
            )["ShardIterator"]
        self._pending: dict[str, list[dict]] = {s: [] for s in self._iterators}
        self.invocations = 0
        self.retries = 0
        self.failed_batches = 0

    def _to_lambda(self, shard: str, record: dict) -> dict:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/{self._function}",
            "awsRegion": REGION,
            "eventSourceARN": self._arn,
        }

    def _fetch(self, shard: str) -> None:
        iterator = self._iterators[shard]
        if iterator is None or len(self._pending[shard]) >= self._mapping.batch_size:
            return
        response = self._kinesis.get_records(ShardIterator=iterator, Limit=max(self._mapping.batch_size, 1000))
        self._iterators[shard] = response.get("NextShardIterator")
        self._pending[shard] += [self._to_lambda(shard, rec) for rec in response["Records"]]

    def poll(self) -> int:
        """One round over the shards; returns how many records were completed."""
        done = 0
        for shard in self._iterators:
            self._fetch(shard)
            batch = self._pending[shard][: self._mapping.batch_size]
            if batch:
                done += self._deliver(shard, batch)
        return done

    def _invoke(self, batch: list[dict]) -> list[str] | None:
        """The failed sequence numbers, or None when the invocation itself failed."""
        self.invocations += 1
        try:
            response = self._handler({"Records": batch}, LocalContext(self._function)) or {}
        except Exception:  # noqa: BLE001 - an invocation error is what the mapping retries
            logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
            return None
        return [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]

    def _deliver(self, shard: str, batch: list[dict]) -> int:
        attempts = 0
        while True:
            failed = self._invoke(batch)
            if failed == []:
                del self._pending[shard][: len(batch)]
                return len(batch)
            attempts += 1
            self.retries += 1
            if failed:  # resume from the lowest failed sequence number, as Lambda does
                lowest = min(int(s) for s in failed)
                keep = [rec for rec in batch if int(rec["kinesis"]["sequenceNumber"]) >= lowest]
                completed = len(batch) - len(keep)
                del self._pending[shard][:completed]
                batch = keep
                if completed:
                    attempts = 0
            elif self._mapping.bisect_on_error and len(batch) > 1:
                batch = batch[: len(batch) // 2]
            if attempts > self._mapping.max_retry_attempts:
                self._send_to_on_failure(shard, batch)
                del self._pending[shard][: len(batch)]
                self.failed_batches += 1
                return len(batch)

    def _send_to_on_failure(self, shard: str, batch: list[dict]) -> None:
        first, last = batch[0]["kinesis"]["sequenceNumber"], batch[-1]["kinesis"]["sequenceNumber"]
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._function}"},
            "KinesisBatchInfo": {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
                                 "batchSize": len(batch), "streamArn": self._arn},
        }
        import json

        self._sqs.send_message(QueueUrl=self._on_failure_url, MessageBody=json.dumps(body))

    def lag(self) -> int:
        return sum(len(p) for p in self._pending.values())


class SqsPoller:
    """The SQS event-source mapping: receive, invoke, delete what succeeded; failures come back."""

    def __init__(self, sqs: Any, queue_url: str, mapping: r.QueueMapping, handler: Callable[[dict, Any], dict],
                 function: str, retry_delay_s: int = 1):
        self._sqs, self._url, self._mapping, self._handler = sqs, queue_url, mapping, handler
        self._function, self._retry_delay = function, retry_delay_s
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.invocations = 0

    def poll(self, max_batches: int = 20) -> int:
        """Up to `max_batches` batches, as Lambda would run them with concurrency; returns messages done."""
        done = 0
        for _ in range(max_batches):
            moved = self._poll_once()
            if not moved:
                break
            done += moved
        return done

    def _poll_once(self) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=min(self._mapping.batch_size, 10), AttributeNames=["All"],
            MessageAttributeNames=["All"], WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": self._arn, "awsRegion": REGION,
        } for m in messages]
        self.invocations += 1
        try:
            response = self._handler({"Records": records}, LocalContext(self._function)) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - the whole batch comes back, as with Lambda
            logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        for m in messages:
            if m["MessageId"] in failed:  # locally, retry after a short delay instead of the full visibility timeout
                self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=m["ReceiptHandle"],
                                                    VisibilityTimeout=self._retry_delay)
        return len(done)


class TopicPoller:
    """An SNS subscription of a function: locally, the topic fans out to a tap queue (moto delivers
    SNS → SQS) and each message is handed to the handler as Lambda's SNS event. A failing message
    comes back up to `retry_attempts` times, then goes to the subscription's dead-letter queue."""

    def __init__(self, sns: Any, sqs: Any, topic_arn: str, subscription: r.TopicSubscription,
                 handler: Callable[[dict, Any], dict], function: str, dead_letter_url: str):
        self._sqs, self._handler, self._function = sqs, handler, function
        self._topic_arn, self._dlq, self._attempts = topic_arn, dead_letter_url, subscription.retry_attempts + 1
        self._url = sqs.create_queue(QueueName=f"{function}-local-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        self.invocations = 0

    def poll(self) -> int:
        import json

        done = 0
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return done
            for m in messages:
                note = json.loads(m["Body"])  # the SNS notification moto put on the tap queue
                event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                      "EventSubscriptionArn": f"{self._topic_arn}:local", "Sns": {
                                          "Type": "Notification", "MessageId": note.get("MessageId", ""),
                                          "TopicArn": self._topic_arn, "Message": note["Message"],
                                          "Timestamp": note.get("Timestamp", ""), "MessageAttributes": {}}}]}
                for attempt in range(self._attempts):
                    self.invocations += 1
                    try:
                        self._handler(event, LocalContext(self._function))
                        break
                    except Exception:  # noqa: BLE001 - an asynchronous invocation is retried, then dead-lettered
                        logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
                else:
                    self._sqs.send_message(QueueUrl=self._dlq, MessageBody=json.dumps(event))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=m["ReceiptHandle"])
                done += 1


class Pipeline:
    """The three handlers wired to their sources, as `cdk deploy` wires them on AWS."""

    def __init__(self, env: dict[str, str], client: Callable[[str], Any]):
        """`env` is the stack's resource map (from create_stack); `client(service)` makes boto3 clients."""
        kinesis, sqs, sns = client("kinesis"), client("sqs"), client("sns")
        queue_url = {q.logical: env[q.env] for q in r.QUEUES}
        stream_name = {s.logical: env[s.env] for s in r.STREAMS}
        self.pollers: dict[str, KinesisPoller | SqsPoller | TopicPoller] = {}
        self.busy: dict[str, float] = {}
        for function in r.FUNCTIONS:
            source = function.source
            if not isinstance(source, (r.StreamMapping, r.QueueMapping, r.TopicSubscription)):
                continue  # an API function is invoked by its caller (marketing.local.offer_api)
            handler = load_handler(function, env)
            if isinstance(source, r.StreamMapping):
                self.pollers[function.logical] = KinesisPoller(
                    kinesis, sqs, stream_name[source.stream], source, handler, function.logical,
                    queue_url[source.on_failure_queue])
            elif isinstance(source, r.QueueMapping):
                self.pollers[function.logical] = SqsPoller(sqs, queue_url[source.queue], source, handler, function.logical)
            elif isinstance(source, r.TopicSubscription):
                topic = next(t for t in r.TOPICS if t.logical == source.topic)
                self.pollers[function.logical] = TopicPoller(sns, sqs, env[topic.env], source, handler,
                                                             function.logical, queue_url[source.dead_letter])

    def step(self) -> int:
        moved = 0
        for name, poller in self.pollers.items():
            started = time.perf_counter()
            moved += poller.poll()
            self.busy[name] = self.busy.get(name, 0.0) + time.perf_counter() - started
        return moved

    def drain(self, idle_rounds: int = 3, timeout_s: float = 600, progress: Callable[[int], None] | None = None) -> int:
        """Poll until nothing moves for `idle_rounds` rounds; returns records completed."""
        total, idle, deadline = 0, 0, time.monotonic() + timeout_s
        while idle < idle_rounds and time.monotonic() < deadline:
            moved = self.step()
            total += moved
            if progress and moved:
                progress(moved)
            idle = 0 if moved else idle + 1
            if not moved:
                time.sleep(0.2)
        return total
