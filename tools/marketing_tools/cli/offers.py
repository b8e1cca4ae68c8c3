"""`marketing offers get|accept|decline` (the inbound offer API), `marketing sms reply` (an inbound
two-way SMS, as End User Messaging publishes it) and `marketing responses` (response records).

Against the local stack the offer API's real handler runs in-process with API Gateway-shaped
events; against a deployed stack (--stack) the HTTP API is called with SigV4 (it is IAM-authorised).
"""
from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any, Optional

import typer
from rich.table import Table

from marketing_tools.cli import target as targets
from marketing_tools.cli.target import UNREACHABLE, Target, console, err



offers_app = typer.Typer(no_args_is_help=True, help="The inbound offer API (store, care, app, web touchpoints).")
sms_app = typer.Typer(no_args_is_help=True, help="Two-way SMS: send an inbound reply to the inbound-sms topic.")

STACK = typer.Option(None, "--stack", help="a deployed stack (default: the local one)")
TOUCHPOINT = typer.Option("store", "--touchpoint", "-t", help="store | care | app | web")


def _signed_call(url: str, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.get_session()
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(method=method, url=url.rstrip("/") + path, data=data,
                         headers={"content-type": "application/json"})
    SigV4Auth(session.get_credentials(), "execute-api", session.get_config_variable("region")).add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(request.url, data=data, headers=dict(request.headers),
                                                           method=method), timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except OSError as error:
        err.print(f"[red]the offer API at {url} is unreachable:[/] {error}")
        raise typer.Exit(UNREACHABLE) from None


def _call(target: Target, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    if "OFFER_API_URL" in target.env:  # a deployed stack's output
        return _signed_call(target.env["OFFER_API_URL"], method, path, body)
    from marketing_tools.emulator.offer_api import LocalOfferApi

    if target.endpoint:  # the local stack: the handler's clients go to the emulator
        os.environ.update({"AWS_ENDPOINT_URL": target.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    return LocalOfferApi(target.env).call(method, path, body)


def _show(status: int, body: Any) -> None:
    if status >= 400:
        err.print(f"[red]{status}[/] {body.get('message') if isinstance(body, dict) else body}")
        raise typer.Exit(1)
    sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")   # one JSON line, like every --json


@offers_app.command("get")
def offers_get(customer: str, touchpoint: str = TOUCHPOINT, stack: Optional[str] = STACK) -> None:
    """The customer's best current offer at the touchpoint (marks it presented)."""
    _show(*_call(targets.resolve_target(stack), "GET", f"/customers/{customer}/offers/{touchpoint}"))


def _answer(customer: str, touchpoint: str, accept: bool, campaign: str | None, stack: str | None) -> None:
    body: dict[str, Any] = {"response": "accept" if accept else "decline"}
    if campaign:
        body["campaign_id"] = campaign
    _show(*_call(targets.resolve_target(stack), "POST", f"/customers/{customer}/offers/{touchpoint}", body))


@offers_app.command("accept")
def offers_accept(customer: str, touchpoint: str = TOUCHPOINT,
                  campaign: Optional[str] = typer.Option(None, help="this campaign's offer (default: the best)"),
                  stack: Optional[str] = STACK) -> None:
    """Accept the offer: a response record and an order.requested event."""
    _answer(customer, touchpoint, True, campaign, stack)


@offers_app.command("decline")
def offers_decline(customer: str, touchpoint: str = TOUCHPOINT,
                   campaign: Optional[str] = typer.Option(None, help="this campaign's offer (default: the best)"),
                   stack: Optional[str] = STACK) -> None:
    """Decline the offer (recorded)."""
    _answer(customer, touchpoint, False, campaign, stack)


@sms_app.command("reply")
def sms_reply(msisdn: str, text: str, stack: Optional[str] = STACK) -> None:
    """Publish an inbound SMS from MSISDN (e.g. +8613800000001) saying TEXT (e.g. Y7, TD) to the inbound-sms topic."""
    target = targets.resolve_target(stack)
    message = {"originationNumber": msisdn, "destinationNumber": "+10000000000", "messageKeyword": "KEYWORD",
               "messageBody": text, "inboundMessageId": uuid.uuid4().hex, "previousPublishedMessageId": None}
    target.client("sns").publish(TopicArn=target.env["INBOUND_SMS_TOPIC_ARN"], Message=json.dumps(message))
    console.print(f"[green]✓[/] inbound SMS {message['inboundMessageId']} published")


def responses(
    campaign: Optional[str] = typer.Option(None, "--campaign", help="only this campaign"),
    customer: Optional[str] = typer.Option(None, "--customer", help="only this customer"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
    stack: Optional[str] = STACK,
) -> None:
    """Response records: replies, offers presented/accepted/declined, conversions, unsubscribes."""
    from marketing.adapters.aws_responses import DynamoResponseStore

    target = targets.resolve_target(stack)
    store = DynamoResponseStore(target.client("dynamodb"), target.env["RESPONSES_TABLE"])
    records = (store.for_campaign(campaign) if campaign else store.for_customer(customer) if customer
               else store.everything())
    records = sorted((r for r in records if not customer or r.customer_id == customer), key=lambda r: r.at)
    if as_json:
        for record in records:
            sys.stdout.write(record.model_dump_json() + "\n")
        return
    columns = ("at", "customer_id", "campaign_id", "kind", "group", "channel", "event_id")
    table = Table(title=f"{len(records)} response record(s)")
    for column in columns:
        table.add_column(column, overflow="fold")   # ids wrap whole at any width, never cut
    for record in records:
        row = record.model_dump(mode="json")
        table.add_row(*[str(row.get(c) or "") for c in columns])
    console.print(table)
