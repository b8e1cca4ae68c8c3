"""The operator's data files the runtime reads by default, shipped as package data.

In the source tree each file here is a link to its editable original under events/ (catalog.yaml,
contact_policy.yaml, touchpoints.yaml, tags.yaml, plans.yaml, products.yaml); the layer build and a wheel carry the content.
A deployment can still point a function elsewhere (CATALOG_PATH, CONTACT_POLICY_PATH, TOUCHPOINTS_PATH).
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CATALOG = "catalog.yaml"
CONTACT_POLICY = "contact_policy.yaml"
TOUCHPOINTS = "touchpoints.yaml"
TAGS = "tags.yaml"
PLANS = "plans.yaml"
PRODUCTS = "products.yaml"
FILES = (CATALOG, CONTACT_POLICY, TOUCHPOINTS, TAGS, PLANS, PRODUCTS)


def packaged(name: str) -> Path:
    """The path of one packaged data file (a regular file once installed or in the layer)."""
    if name not in FILES:
        raise KeyError(f"no packaged data file {name!r}; there are {', '.join(FILES)}")
    return Path(str(files(__name__) / name))
