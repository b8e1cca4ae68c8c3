"""The emulator's fixes to moto's server (each wraps or replaces one of moto's own methods), and the
in-process transport that lets this process's boto3 reach the server's application without a socket."""
from __future__ import annotations

import functools
import threading
from typing import Any

import boto3



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


@functools.cache
def _parsed_once() -> None:
    """moto 5.2 parses each DynamoDB update and condition expression from its text on every call,
    twice per UpdateItem (once to check the names and values it uses, once to apply it): a quarter
    of an UpdateItem's time, and the decision path sends the same few expressions all day. An
    update expression's tree is kept per text (moto deep-copies it before resolving names and values
    into it) and a condition expression's tokens likewise (fresh nodes each call; names and values
    are still resolved per call). Same trees, same errors; the emulator and the integration suite."""
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
def _transactions_back_up_what_they_touch() -> None:
    """moto 5.2's TransactWriteItems deep-copies every table it names before it writes, to roll
    back on a cancellation: a 100k-profile import (1,000 transactions of 100) copied the whole table
    1,000 times and ran out of memory. Here the copy is skipped and the items the transaction
    names are backed up instead, and put back when it is cancelled. Same answers, same rollback."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    in_transaction = threading.local()

    class TablesNotCopied:  # what moto's models module sees as `copy`
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(in_transaction, "on", False) and isinstance(value, Table):
                return value  # the items are backed up one by one (below)
            return copy.deepcopy(value, memo)

    def key_of(table: Table, op: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
        key = op.get("Key") or op.get("Item") or {}
        if table.hash_key_attr not in key:
            return None
        range_value = key.get(table.range_key_attr) if table.range_key_attr else None
        return DynamoType(key[table.hash_key_attr]), DynamoType(range_value) if range_value else None

    def restore(table: Table, hash_key: DynamoType, range_key: DynamoType | None, saved: Any) -> None:
        shelf = table.items[hash_key] if range_key is not None else table.items
        slot = range_key if range_key is not None else hash_key
        if saved is None:
            shelf.pop(slot, None)
            if range_key is not None and not table.items[hash_key]:
                table.items.pop(hash_key)
        else:
            shelf[slot] = saved

    original = models.DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = []
        for item in transact_items:
            op = next(iter(item.values()), {})
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            key = key_of(table, op) if table is not None else None
            if key is not None:
                backups.append((table, *key, copy.deepcopy(table.get_item(*key))))
        in_transaction.on = True
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, saved in reversed(backups):
                restore(table, hash_key, range_key, saved)
            raise
        finally:
            in_transaction.on = False

    models.copy = TablesNotCopied()  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


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
    _transactions_back_up_what_they_touch()


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

