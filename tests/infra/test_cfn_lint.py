"""cfn-lint, the CloudFormation linter, on the synthesized template: no errors, and no warnings but the
two shapes aws-cdk-lib itself writes (named below with why they are harmless).

cdk-nag checks the stack against security rules; cfn-lint checks it against CloudFormation itself
(resource specifications, allowed values, references, IAM policy syntax, runtime deprecations),
which is what moto never enforces and a deploy would otherwise be the first to tell.
"""
from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint

REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-1"]   # where the stack is meant to deploy (README)


def _findings(template: dict) -> list[str]:
    matches = lint(json.dumps(template), config=ManualArgs(regions=REGIONS))
    return [f"{m.rule.id} {m.rule.severity} {'/'.join(str(p) for p in m.path)}: {m.message}" for m in matches]


# aws-cdk-lib's own output, not ours: every Function/StateMachine DependsOn its role's default policy and
# the role (W3005: the role is also a GetAtt; redundant, harmless); the Firehose construct ships a region
# map of CIDR blocks used only with a VPC destination (W7001: unused mapping).
CDK_WRITES = {"W3005", "W7001"}


def test_cfn_lint_finds_no_error_in_the_synthesized_template(synth):
    findings = _findings(synth.raw)
    errors = [f for f in findings if " error " in f]
    warnings = [f for f in findings if " warning " in f and f.split()[0] not in CDK_WRITES]
    assert errors == [], "\n".join(errors)
    assert warnings == [], "\n".join(warnings)


def test_cfn_lint_would_catch_a_broken_template(synth):
    # the check is live: a function pointing at a runtime that does not exist is an error
    broken = json.loads(json.dumps(synth.raw))
    function = next(r for r in broken["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                    and "Runtime" in r["Properties"])
    function["Properties"]["Runtime"] = "python2.1"
    assert any(" error " in f and "Runtime" in f for f in _findings(broken))
