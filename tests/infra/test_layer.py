"""The layer is the runtime distribution and nothing else, and it is enough: every function handler
imports and cold-starts in a fresh virtual environment holding only the layer's requirements
(no moto, typer, rich, pytest), with the environment the synthesized template gives the function.

The requirements are installed for this machine's Python (the layer's own wheels are Linux cp312,
which `make layer` fetches for Lambda); the package is the one `make layer` copies.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import threading
import venv
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra import build_layer
from marketing import resources

ROOT = Path(__file__).resolve().parents[2]
# What a cold start may ask AWS: the live contact policy (decide, deliver) is read once at init.
COLD_START_CALLS = {"DynamoDB_20120810.GetItem"}
ABSENT = ("moto", "typer", "rich", "pytest", "marketing_tools", "hypothesis", "aws_cdk")

COLD_START = r"""
import importlib.util, json, os, sys
env, handlers = json.loads(sys.argv[1]), json.loads(sys.argv[2])
absent = [m for m in %(absent)r if importlib.util.find_spec(m) is not None]
assert not absent, f"the layer's environment holds {absent}"
started = {}
for logical, path in handlers.items():
    os.environ.clear()
    os.environ.update(env[logical])
    spec = importlib.util.spec_from_file_location(f"handler_{logical}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)           # the cold start: settings read, use case built
    assert callable(module.handler), logical
    started[logical] = sorted(m for m in sys.modules if m.startswith("marketing"))
print(json.dumps(started))
""" % {"absent": ABSENT}


@pytest.fixture(scope="module")
def layer(tmp_path_factory) -> Path:
    """`make layer`'s package copy (build_layer), with its requirements in a fresh venv."""
    base = tmp_path_factory.mktemp("layer")
    out = build_layer.build(base / "layer", dependencies=False)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--constraint", str(build_layer.CONSTRAINTS), "boto3", *build_layer.runtime_requirements()],
                   check=True)
    return out


class _Aws(BaseHTTPRequestHandler):
    """Stands in for AWS at cold start: answers every JSON-protocol call with an empty result (a
    GetItem finding nothing) and records what was asked; anything else gets a 400."""

    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path}"
        self.calls.append(target)
        known = target in COLD_START_CALLS
        body = b"{}" if known else json.dumps({"__type": "UnexpectedColdStartCall", "message": target}).encode()
        self.send_response(200 if known else 400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def aws_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Aws)
    _Aws.calls = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _function_env(synth, function: resources.Function, site: Path, endpoint: str) -> dict[str, str]:
    """The template's variables for the function; a reference (a name CloudFormation fills in) becomes
    a plausible value, and AWS is the recording stand-in above."""
    variables = synth.props(synth.function(function.logical))["Environment"]["Variables"]
    env = {k: v if isinstance(v, str) else f"{synth.stack_name}-{k.lower()}" for k, v in variables.items()}
    for key in [k for k in env if k.endswith("_URL") and not env[k].startswith("http")]:
        env[key] = f"https://sqs.us-east-1.amazonaws.com/123456789012/{env[key]}"
    for key in [k for k in env if k.endswith("_ARN")]:
        env[key] = f"arn:aws:sns:us-east-1:123456789012:{env[key]}"
    if "UNSUBSCRIBE_SECRET_ARN" in env:   # the key itself, so no Secrets Manager call is needed to start
        env.pop("UNSUBSCRIBE_SECRET_ARN")
        env["UNSUBSCRIBE_SECRET"] = "cold-start-test-key"
    env.update({"PYTHONPATH": str(site), "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_ENDPOINT_URL": endpoint,
                "AWS_EC2_METADATA_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_DEV": "false",
                "AWS_LAMBDA_FUNCTION_NAME": function.logical})
    return env


def test_the_layer_holds_no_tools_module(layer):
    site = layer / "python"
    assert sorted(p.name for p in site.iterdir()) == ["marketing"]
    for path in site.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not [n for n in names if n.split(".")[0] in ABSENT + ("subprocess",)], (path, names)


def test_every_handler_cold_starts_with_only_the_layer_requirements(layer, synth, aws_endpoint):
    site = layer / "python"
    handlers = {f.logical: str(ROOT / "functions" / f.handler_dir / "handler.py") for f in resources.FUNCTIONS}
    env = {f.logical: _function_env(synth, f, site, aws_endpoint) for f in resources.FUNCTIONS}
    run = subprocess.run([str(layer.parent / "venv" / "bin" / "python"), "-s", "-c", COLD_START,
                          json.dumps(env), json.dumps(handlers)],
                         capture_output=True, text=True, timeout=600,
                         env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-4000:]
    started = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(started) == {f.logical for f in resources.FUNCTIONS}
    for logical, loaded in started.items():   # what each function brought in came from the layer
        assert all(not m.startswith("marketing_tools") for m in loaded), logical
    assert set(_Aws.calls) <= COLD_START_CALLS, _Aws.calls   # no write, no other call before the first event
