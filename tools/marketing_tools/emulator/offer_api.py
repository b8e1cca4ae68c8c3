"""Local adapter of the inbound offer API: the real offer-api handler, invoked in-process with
API Gateway HTTP API (payload 2.0)-shaped events, as `marketing offers get|accept|decline` and the
local stack use it. Emulator only; on AWS, API Gateway invokes the same handler.
"""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from marketing import resources as r
from marketing_tools.emulator.handlers import LocalContext, load_handler
from marketing_tools.emulator.account import ACCOUNT


def http_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": "localhost", "stage": "$default",
            "requestId": uuid.uuid4().hex, "routeKey": "$default", "time": "", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "marketing-local"}},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


class LocalOfferApi:
    def __init__(self, env: dict[str, str]):
        self._handler: Callable[[dict, Any], dict] = load_handler(r.OFFER_API, env)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        response = self._handler(http_event(method, path, body), LocalContext(r.OFFER_API.logical))
        text = response.get("body") or "null"
        return response["statusCode"], json.loads(text)

    def current(self, customer_id: str, touchpoint: str) -> tuple[int, Any]:
        return self.call("GET", f"/customers/{customer_id}/offers/{touchpoint}")

    def answer(self, customer_id: str, touchpoint: str, accept: bool, campaign_id: str | None = None) -> tuple[int, Any]:
        body: dict[str, Any] = {"response": "accept" if accept else "decline"}
        if campaign_id:
            body["campaign_id"] = campaign_id
        return self.call("POST", f"/customers/{customer_id}/offers/{touchpoint}", body)


def serve_http(api: LocalOfferApi, port: int = 0) -> ThreadingHTTPServer:
    """A tiny HTTP front of the local offer API on 127.0.0.1 (what `marketing local up` serves), so a
    store or care system under test can call it as it would call API Gateway (without SigV4)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length)) if length else None
            except ValueError:
                status, payload = 400, {"statusCode": 400, "message": "body is not JSON"}
            else:
                status, payload = api.call(method, self.path.split("?", 1)[0], body)
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def log_message(self, *_: Any) -> None:  # quiet: the local log is for the pipeline
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="offer-api", daemon=True).start()
    return server
