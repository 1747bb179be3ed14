"""Every AGI command's turnaround is timed for /metrics (hotline_agi_command_seconds)."""

from __future__ import annotations

from hotline.metrics import AGI_COMMAND_SECONDS


def commands_timed() -> float:
    return next(s.value for metric in AGI_COMMAND_SECONDS.collect() for s in metric.samples
                if s.name.endswith("_count"))


async def test_each_command_of_a_call_is_timed_once(call) -> None:
    before = commands_timed()
    phone = call(keys=["2"])

    await phone.run()

    assert commands_timed() - before == len(phone.commands)
