"""The infra tests read the one synth of the CDK app per session (the `synth` fixture, tests/conftest.py)."""
