"""One construct per capability of the product (SPEC 2), composed by infra.stack.MarketingStack.

Import as `infra.constructs.<module>`: this folder shares its name with the `constructs` library,
so `infra/` itself must never be on sys.path (cdk.json runs `python -m infra.app` from the root).
"""
