"""The CDK app (Python) that deploys the product: `cdk.json` runs `python -m infra.app`."""
