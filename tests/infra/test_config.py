"""Context overrides (no synth needed) and the layer builder."""
from __future__ import annotations

import json

import pytest

from marketing import resources


def _ctx(**context):
    from aws_cdk import App

    from infra.config import Context
    return Context(App(context=context))


def test_mapping_defaults_come_from_resources():
    assert _ctx().stream_mapping(resources.ENRICH) == resources.ENRICH.source
    assert _ctx().queue_mapping(resources.DELIVER) == resources.DELIVER.source


def test_mapping_overrides_from_context_strings():
    m = _ctx(enrichBatchSize="100", enrichBatchingWindow="5", enrichParallelizationFactor="4",
             enrichRetryAttempts="2", enrichMaxRecordAge="600", enrichBisectOnError="false",
             enrichStartingPosition="LATEST").stream_mapping(resources.ENRICH)
    assert (m.batch_size, m.max_batching_window_s, m.parallelization_factor, m.max_retry_attempts,
            m.max_record_age_s, m.bisect_on_error, m.starting_position) == (100, 5, 4, 2, 600, False, "LATEST")
    assert m.on_failure_queue == resources.ENRICH.source.on_failure_queue
    assert _ctx(decideBatchSize=50).stream_mapping(resources.DECIDE).batch_size == 50
    assert _ctx(deliverMaxConcurrency="5").queue_mapping(resources.DELIVER).max_concurrency == 5


@pytest.mark.parametrize("key,value", [("enrichBatchSize", "many"), ("enrichParallelizationFactor", "11"),
                                       ("decideBisectOnError", "maybe")])
def test_bad_context_fails_with_the_key_named(key, value):
    from infra.config import ContextError
    fn = resources.DECIDE if key.startswith("decide") else resources.ENRICH
    with pytest.raises(ContextError, match=key):
        _ctx(**{key: value}).stream_mapping(fn)


def test_layer_requirements_exclude_what_lambda_provides():
    from infra.build_layer import runtime_requirements
    names = {r.split("[")[0].split(">")[0].split("=")[0].lower() for r in runtime_requirements()}
    assert {"pydantic", "pyyaml", "jinja2", "aws-lambda-powertools"} <= names
    assert "boto3" not in names


def test_layer_without_dependencies(tmp_path):
    from infra import build_layer
    out = tmp_path / "layer"
    assert build_layer.main(["--no-deps", "--out", str(out)]) == 0
    assert (out / "python" / "marketing" / "resources.py").is_file()
    root = build_layer.ROOT
    for name in ("catalog.yaml", "contact_policy.yaml", "touchpoints.yaml", "tags.yaml"):
        packaged = out / "python" / "marketing" / "data" / name   # package data: a regular file, the operator's content
        assert packaged.is_file() and not packaged.is_symlink()
        assert packaged.read_text() == (root / "events" / name).read_text()
    assert not list((out / "python").rglob("__pycache__"))
    assert json.loads(build_layer.marker(out).read_text())["dependencies"] is False
    assert build_layer.ensure(out) is False          # refreshes the package, keeps the flag
