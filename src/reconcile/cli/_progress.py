"""Sync progress by wave: a table redrawn in place on a terminal, plain lines otherwise.

The table is redrawn with two ANSI sequences (cursor up to the first line, clear to the end of the screen), so
no terminal library is needed; lines are cut to the terminal's width so that none wraps and the count of lines
to move up stays right.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, TextIO

import attrs

from reconcile.cli._output import table
from reconcile.model import OperationPhase, ResultCode

if TYPE_CHECKING:
    from reconcile.sync import SyncOperation, SyncPlan, SyncResult

_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # to the start of the line n lines up, then clear everything below


@attrs.frozen(kw_only=True)
class WaveRow:
    """One (phase, wave) step of a sync as it stands.

    Attributes:
        phase: The sync phase.
        wave: The wave within the phase.
        done: How many of its tasks have a result.
        total: How many tasks it holds.
        state: ``Pending``, ``Running``, ``Waiting``, ``Synced``, ``Failed`` or ``Skipped``.
        message: The operation's message while this is the step in progress.
    """

    phase: str
    wave: int
    done: int
    total: int
    state: str
    message: str = ""

    def line(self) -> str:
        """``Sync wave 1: Synced (3/3)`` and the message, for plain output."""
        message = f": {self.message}" if self.message else ""
        return f"{self.phase} wave {self.wave}: {self.state} ({self.done}/{self.total}){message}"


def wave_rows(plan: SyncPlan, result: SyncResult) -> list[WaveRow]:
    """Where each step of ``plan`` stands, given what the operation has done so far."""
    results = {r.key: r for r in result.resources}
    running = result.phase in (OperationPhase.RUNNING, OperationPhase.TERMINATING)
    steps = plan.steps()
    started = [i for i, (_, _, tasks) in enumerate(steps) if any(t.key in results for t in tasks)]
    current = started[-1] if started and running else None
    rows = []
    for index, (phase, wave, tasks) in enumerate(steps):
        outcomes = [results[t.key] for t in tasks if t.key in results]
        if any(r.status is ResultCode.SYNC_FAILED for r in outcomes):
            state = "Failed"
        elif index == current:
            state = "Running" if len(outcomes) < len(tasks) else "Waiting"
        elif len(outcomes) == len(tasks):
            state = "Synced"
        elif running:
            state = "Pending"
        else:
            state = "Skipped"  # the operation ended before this step (a failure, or SyncFail hooks not needed)
        message = result.message if index == current else ""
        rows.append(
            WaveRow(phase=str(phase), wave=wave, done=len(outcomes), total=len(tasks), state=state, message=message)
        )
    return rows


class PlainProgress:
    """One line each time a step changes state: for logs and pipes.

    Args:
        stream: Where the lines go.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._seen: dict[tuple[str, int], tuple[str, str]] = {}

    def update(self, plan: SyncPlan, operation: SyncOperation) -> None:
        """Write a line for each step whose state or message changed since the last call."""
        for row in wave_rows(plan, operation.result):
            if row.state == "Pending":
                continue
            now = (row.state, row.message)
            if self._seen.get((row.phase, row.wave)) != now:
                self._seen[(row.phase, row.wave)] = now
                self.stream.write(row.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Nothing to tidy up: lines are final once written."""


class LiveProgress:
    """A table of the steps, redrawn in place on a terminal.

    Args:
        stream: A terminal.
        title: The first line (the application and revision).
    """

    def __init__(self, stream: TextIO, title: str) -> None:
        self.stream = stream
        self.title = title
        self._started = time.monotonic()
        self._lines = 0

    def update(self, plan: SyncPlan, operation: SyncOperation) -> None:
        """Redraw the table."""
        rows = wave_rows(plan, operation.result)
        body = table(
            ["PHASE", "WAVE", "OBJECTS", "STATE", "MESSAGE"],
            [[r.phase, str(r.wave), f"{r.done}/{r.total}", r.state, r.message] for r in rows],
        )
        elapsed = time.monotonic() - self._started
        lines = [f"{self.title}  {operation.phase} {elapsed:.1f}s", *body.splitlines()]
        width = max(shutil.get_terminal_size().columns - 1, 20)
        text = "".join(line[:width] + "\n" for line in lines)
        prefix = _UP_AND_CLEAR.format(n=self._lines) if self._lines else ""
        self.stream.write(prefix + text)
        self.stream.flush()
        self._lines = len(lines)

    def close(self) -> None:
        """Leave the last drawing on screen, followed by a blank line."""
        self.stream.write("\n")
        self.stream.flush()
