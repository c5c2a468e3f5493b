"""What a long command reports as it goes: its phases, the steps of a phase with a
known count (the activities written), and notes to keep ("generated the demo shop").

A 200k-customer build runs for many seconds; without this it printed one line. The
library calls a `Progress`; the command line hands it one that draws a rich progress
display on a terminal and prints plain lines otherwise (CI logs), and the default
reports nothing (library callers, tests).
"""

from __future__ import annotations


class Progress:
    """Reports nothing; subclasses show it. Phases follow each other: starting one ends
    the one before, `finish` ends the last."""

    def start(self, phase: str, total: int | None = None) -> None:
        """A phase begins; `total`: the steps it will `advance` through, if known."""

    def advance(self, steps: int = 1) -> None:
        """Steps of the current phase are done."""

    def note(self, message: str) -> None:
        """A message to keep in the output (not a phase)."""

    def finish(self) -> None:
        """The last phase is over."""


class Lines(Progress):
    """One plain line per phase and note, for logs: deterministic (no timings, no
    redrawing), through `say` (e.g. click.echo to stderr)."""

    def __init__(self, say):
        self.say = say

    def start(self, phase: str, total: int | None = None) -> None:
        self.say(phase)

    def note(self, message: str) -> None:
        self.say(message)
