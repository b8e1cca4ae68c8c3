"""Unsubscribe links: a signed token naming (customer, campaign), so the link needs no lookup table
and cannot be forged to opt out someone else. Pure: the signing key is passed in, never read here."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode, urlsplit, urlunsplit


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token(key: bytes, customer_id: str, campaign_id: str) -> str:
    payload = _b64(json.dumps([customer_id, campaign_id], separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
    return f"{payload}.{signature}"


def read_token(key: bytes, value: str) -> tuple[str, str] | None:
    """(customer_id, campaign_id) of a genuine token; None for anything else."""
    payload, _, signature = value.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        customer_id, campaign_id = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    return str(customer_id), str(campaign_id)


def link(base_url: str, value: str) -> str:
    """`base_url` with the token as its `t` query parameter (kept apart from any query it has)."""
    parts = urlsplit(base_url)
    query = f"{parts.query}&{urlencode({'t': value})}" if parts.query else urlencode({"t": value})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
