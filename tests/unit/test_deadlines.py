"""Per-request timeouts without a timer per request (``Deadlines``): a request past its timeout ends as a timeout, a
cancelled run stays cancelled, and the task's cancel count is left as it was."""

from __future__ import annotations

import asyncio

import pytest

from core.writers.transports import Deadlines


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def request(deadlines: Deadlines, started: float, answered: asyncio.Event) -> str:
    """A request the way ``AiohttpSender`` makes one: registered, awaited, its cancel told apart."""
    task = deadlines.begin(started)
    try:
        await answered.wait()
    except asyncio.CancelledError:
        if not deadlines.expired(task):
            raise
        return "timeout"
    finally:
        deadlines.end(task)
    return "answered"


async def settle(task: asyncio.Task[str]) -> str:
    for _ in range(5):  # let the task run up to its await, or take its cancel
        await asyncio.sleep(0)
    return await task if task.done() else "pending"


@pytest.mark.parametrize(("age", "expected", "expired"), [(9.9, "pending", 0), (10.0, "timeout", 1),
                                                           (30.0, "timeout", 1)])
def test_a_request_older_than_the_timeout_ends_as_a_timeout(age: float, expected: str, expired: int) -> None:
    async def scenario() -> tuple[str, int, int]:
        clock = Clock()
        deadlines = Deadlines(10.0, clock=clock)
        task = asyncio.create_task(request(deadlines, clock.now, asyncio.Event()))
        await asyncio.sleep(0)
        clock.now += age
        count = deadlines.expire()
        outcome = await settle(task)
        if not task.done():
            task.cancel()
        return outcome, count, task.cancelling() if outcome == "timeout" else 0

    assert asyncio.run(scenario()) == (expected, expired, 0)


def test_a_run_cancelled_as_its_request_times_out_stays_cancelled() -> None:
    async def scenario() -> None:
        clock = Clock()
        deadlines = Deadlines(1.0, clock=clock)
        task = asyncio.create_task(request(deadlines, clock.now, asyncio.Event()))
        await asyncio.sleep(0)
        clock.now += 2.0
        assert deadlines.expire() == 1
        task.cancel()  # the run is cancelled in the same tick
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


def test_an_answer_that_lands_with_the_cancel_takes_the_cancel_back() -> None:
    async def scenario() -> tuple[str, int]:
        clock = Clock()
        deadlines = Deadlines(1.0, clock=clock)
        answered = asyncio.Event()
        task = asyncio.create_task(request(deadlines, clock.now, answered))
        await asyncio.sleep(0)
        answered.set()  # the answer is in: the task is ready to run when the watchdog cancels it
        clock.now += 2.0
        deadlines.expire()
        return await task, task.cancelling()

    assert asyncio.run(scenario()) == ("timeout", 0)


def test_the_watchdog_times_out_a_request_that_never_answers() -> None:
    async def scenario() -> str:
        async with Deadlines(0.05) as deadlines:
            return await request(deadlines, deadlines.clock(), asyncio.Event())

    assert asyncio.run(scenario()) == "timeout"


def test_a_run_cancelled_while_the_watchdog_stops_stays_cancelled() -> None:
    async def scenario() -> None:
        async def run() -> None:
            async with Deadlines(10.0):
                pass

        task = asyncio.create_task(run())
        await asyncio.sleep(0)  # the task is now waiting for its watchdog to end
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
