"""Unit tests: the pure domain, plus use cases driven by the in-memory fakes. No I/O, sockets off."""
from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, settings

# No example database: a unit run writes nothing outside its temporary directory.
settings.register_profile(
    "unit", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("unit")


class _NoNetwork(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _sockets_off(monkeypatch):
    def refuse(*args, **kwargs):
        raise _NoNetwork("unit tests must not open network connections")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
