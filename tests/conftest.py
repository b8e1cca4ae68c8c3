"""The whole suite runs against this checkout: the tools find events/ and functions/ here even when a
test changes the working directory (marketing_tools.project)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MARKETING_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# the CLI's local-stack state: never the checkout's own .marketing/ (a developer's running stack)
os.environ.setdefault("MARKETING_STATE_DIR", tempfile.mkdtemp(prefix="marketing-state-"))


# One in-process synth of the CDK app per pytest session, shared by the infra tests and the integration
# suite's least-privilege check. It runs with cdk-nag on (as `cdk synth` does): an unacknowledged
# finding fails the fixture, so every test using it errors rather than passing on a non-compliant stack.
@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    return synthesize(tmp_path_factory)


@pytest.fixture(scope="session")
def synth_every_channel(tmp_path_factory):
    """The stack deployed with every delivery channel on (push too): what the integration suite exercises."""
    return synthesize(tmp_path_factory, deliveryChannels="sms,email,push")


def synthesize(tmp_path_factory, **context: str):
    import time

    from aws_cdk.assertions import Template

    from infra.app import build_app
    from tests.infra.helpers import STACK_NAME, Synth

    started = time.perf_counter()
    work = tmp_path_factory.mktemp("infra")
    app, stack = build_app(context={"stackName": STACK_NAME, **context}, outdir=str(work / "cdk.out"),
                           layer_dir=work / "layer")
    assembly = app.synth()   # raises ValidationFailed on any unacknowledged cdk-nag error
    artifact = assembly.get_stack_by_name(stack.stack_name)
    raw = artifact.template
    out = Path(assembly.directory)
    metadata = json.loads((out / f"{stack.artifact_id}.metadata.json").read_text())
    report = json.loads((out / "validation-report.json").read_text())
    return Synth(stack_name=stack.stack_name, template=Template.from_json(raw), raw=raw, metadata=metadata,
                 report=report, outdir=out, seconds=time.perf_counter() - started)
