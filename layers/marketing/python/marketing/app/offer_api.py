"""The inbound offer API (API Gateway HTTP API, payload 2.0) over `InboundOffers`, with Powertools' resolver:

  GET  /customers/{customer_id}/offers/{touchpoint}   the best current offer (marks it presented)
  POST /customers/{customer_id}/offers/{touchpoint}   {"response": "accept" | "decline", "campaign_id"?}
  GET  /customers/{customer_id}/tariff-advice          the tariff advisor's answer (SPEC 4.8)

The same handler serves the local adapter (`marketing offers …`, `marketing local up`), which
builds API Gateway-shaped events. No business rule here: the desk decides.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

from marketing.app.inbound import Conflict, NotFound, InboundOffers
from marketing.app.tariff import TariffAdvisor, UnknownCustomer


def resolver(desk: InboundOffers, advisor: TariffAdvisor) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.get("/customers/<customer_id>/tariff-advice")
    def tariff_advice(customer_id: str) -> dict[str, Any]:
        try:
            return advisor.advice(customer_id).to_json()
        except UnknownCustomer as missing:
            raise NotFoundError(str(missing)) from missing

    @app.get("/customers/<customer_id>/offers/<touchpoint>")
    def current(customer_id: str, touchpoint: str) -> dict[str, Any]:
        try:
            return desk.current(customer_id, touchpoint)
        except NotFound as missing:
            raise NotFoundError(str(missing)) from missing

    @app.post("/customers/<customer_id>/offers/<touchpoint>")
    def answer(customer_id: str, touchpoint: str) -> dict[str, Any] | Response:
        body = app.current_event.json_body if app.current_event.body else {}
        if not isinstance(body, dict) or body.get("response") not in ("accept", "decline"):
            raise BadRequestError('body: {"response": "accept" | "decline", "campaign_id": optional}')
        try:
            return desk.answer(customer_id, touchpoint, body.get("campaign_id"), body["response"] == "accept")
        except NotFound as missing:
            raise NotFoundError(str(missing)) from missing
        except Conflict as conflict:
            return Response(status_code=409, content_type=content_types.APPLICATION_JSON,
                            body=json.dumps({"statusCode": 409, "message": str(conflict)}))

    return app
