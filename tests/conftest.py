"""Shared fixtures: one embedded emulator and one moto server per test session, real and local."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.emulator import Emulator
from core.targets import LOCAL_CREDENTIALS, Target, make_target
from tests.servers import moto_server


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="session")
def embedded_target(emulator: Emulator) -> Target:
    return make_target("embedded", embedded_url=emulator.endpoint_url)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_target(moto_url: str) -> Target:
    return make_target("custom", endpoint_url=moto_url, credentials=LOCAL_CREDENTIALS)
