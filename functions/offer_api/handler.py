"""Lambda handler: inbound offer API (API Gateway HTTP API) → the offer desk (marketing.app.inbound). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import api_handler
from marketing.app.offer_api import resolver
from marketing.app.wiring import build_offer_api
from marketing.settings import configured

handler = api_handler(configured(resources.OFFER_API, lambda settings: resolver(*build_offer_api(settings))))
