"""The CDK app: `cdk synth` / `cdk deploy` (cdk.json runs `python -m infra.app` from the repo root).

    -c stackName=marketing        stack name and resource-name prefix (default marketing)
    other context keys            see infra/README.md

cdk-nag (AwsSolutions) runs as a policy-validation plugin: an unacknowledged finding fails synth.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (`python infra/app.py`), Python puts infra/ first on sys.path, where
# infra/constructs/ would shadow the `constructs` library: put the repo root there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "infra":
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra import build_layer  # noqa: E402
from infra.stack import MarketingStack  # noqa: E402

DEFAULT_STACK_NAME = "marketing"


def cdk_json_context() -> dict:
    """cdk.json's context (feature flags, defaults). The CLI passes it itself; an in-process build
    (tests) must apply it too, or the synthesized template would differ from `cdk synth`'s."""
    return json.loads((ROOT / "cdk.json").read_text()).get("context", {})


def build_app(context: dict | None = None, outdir: str | None = None,
              layer_dir: Path = build_layer.DEFAULT_OUT) -> tuple[App, MarketingStack]:
    # Defaults first; context the CLI passes (cdk.json + -c) overrides them inside App().
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stack_name = app.node.try_get_context("stackName") or DEFAULT_STACK_NAME
    has_deps = build_layer.ensure(layer_dir)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    stack = MarketingStack(
        app, "MarketingStack", stack_name=stack_name,
        description="Real-time event marketing: ingestion, decisioning, delivery, decision log",
        env=Environment(account=account, region=region) if account and region else None,
        layer_dir=layer_dir, layer_has_dependencies=has_deps,
    )
    add_checks(app)
    return app, stack


def add_checks(app: App) -> None:
    """cdk-nag v3 as a CDK policy-validation plugin: any unacknowledged error fails `app.synth()`."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
