"""bench.floor's profile charges each module of the writer's stack to its part (a moved module must not fall into
"other Python")."""

from __future__ import annotations

from types import ModuleType

import aiohttp.client
import pytest

import core.domain.books
import core.wire.protocol
import core.wire.retry
import core.wire.sigv4
import core.writers.exchange
import core.writers.transports
from bench.floor import where


@pytest.mark.parametrize(("module", "part"), [
    (aiohttp.client, "aiohttp"), (core.wire.sigv4, "signing"), (core.wire.protocol, "request bodies"),
    (core.domain.books, "request bodies"), (core.writers.exchange, "retry loop and tally"),
    (core.wire.retry, "retry loop and tally"), (core.writers.transports, "transport")])
def test_each_module_of_the_writer_is_charged_to_its_part(module: ModuleType, part: str) -> None:
    assert module.__file__ is not None and where(module.__file__) == part
