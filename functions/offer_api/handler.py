"""Lambda handler: inbound offer API (API Gateway HTTP API) → the offer desk (marketing.app.inbound). Wiring only."""
from marketing.app.offer_api import api_handler
from marketing.app.wiring import build_offer_desk

handler = api_handler(build_offer_desk)
