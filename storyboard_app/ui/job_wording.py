"""How engine work reads in the status bar: panels by number, characters by name, times.

Plain functions over plain data (jobs, step reports, panel numbers), so the
wording is tested without a window: "Building Mara’s identity: step 12/30",
"Panel 4 of 9", "Render panels 2, 4–5", "1:05 elapsed, about 2:10 left".
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storyboard_app.worker.jobs import Job, JobKind, StepProgress

# Step times kept for the estimate: recent ones follow a change of speed (an identity
# batch of several images is slower per step than one panel).
KEPT_STEP_TIMES = 12


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:30``, ``1:02:03``: a clock reading, never fractions of a second."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def possessive(name: str) -> str:
    """``Mara’s``; ``Chris’`` for a name ending in s."""
    return f"{name}’" if name.endswith(("s", "S")) else f"{name}’s"


def number_ranges(numbers: Sequence[int]) -> str:
    """``[2, 4, 5, 6]`` -> ``2, 4–6``: consecutive panels as one range."""
    ordered = sorted(set(numbers))
    parts: list[str] = []
    start = previous = None
    for number in [*ordered, None]:
        if start is not None and (number is None or number != previous + 1):
            parts.append(str(start) if start == previous else f"{start}–{previous}")
            start = None
        if number is not None and start is None:
            start = number
        previous = number
    return ", ".join(parts)


def describe_job(job: Job, numbers: Mapping[int, int] | None = None) -> str:
    """How a job reads in the queue, naming its panels when ``numbers`` (scene id -> panel
    number) is known: "Render panels 2, 4–5", "Reroll panel 3", "Render all 9 panels"."""
    if job.kind is JobKind.IDENTITY:
        return "Build character identities"
    verb = "Reroll" if job.kind is JobKind.REROLL else "Render"
    if numbers is None:
        return job.describe()
    if job.scene_ids is None:
        count = len(numbers)
        return f"{verb} all {count} panel{'s' if count != 1 else ''}"
    known = [numbers[scene_id] for scene_id in job.scene_ids if scene_id in numbers]
    if not known:
        return job.describe()
    return f"{verb} panel{'s' if len(known) != 1 else ''} {number_ranges(known)}"


def describe_step(progress: StepProgress, total: int | None = None, done: int = 0) -> str:
    """One step report in words.

    ``total``: the panels the job renders; ``done``: how many of them are finished.
    When the panels are the story's first ones in order, "Panel 4 of 9"; otherwise
    the story number and the place in the job, "Panel 7 (2 of 3)"; a job of only
    these panels, "Panel 7".
    """
    step = f"step {progress.step}/{progress.steps}"
    if progress.stage == "identity":
        return f"Building {possessive(progress.label)} identity: {step}"
    numbers = _label_numbers(progress.label)
    if not numbers:
        return f"Panel {progress.label}: {step}"
    plural = "s" if len(numbers) > 1 else ""
    shown = number_ranges(numbers)
    if total is None or total == len(numbers):
        return f"Panel{plural} {shown}: {step}"
    first = done + 1
    places = list(range(first, first + len(numbers)))
    if places == sorted(numbers):
        return f"Panel{plural} {shown} of {total}: {step}"
    place = number_ranges(places)
    return f"Panel{plural} {shown} ({place} of {total}): {step}"


def _label_numbers(label: str) -> list[int]:
    parts = [part.strip() for part in label.split(",")]
    return [int(part) for part in parts if part.isdigit()]


@dataclass
class _LastStep:
    time: float
    pass_index: int
    step: int


class StepClock:
    """Elapsed time of the running job and an estimate of what is left, from measured steps.

    A step's time is the gap between two reports of the same pass; the time between
    passes (decoding, saving, encoding the next prompts) is measured apart, from the
    gap between a pass's last step and the next pass's first. The estimate is the
    median of recent steps times the steps left, plus that overhead per pass left.
    Times are passed in (``time.monotonic()`` in the app), so tests need no sleeping.
    """

    def __init__(self) -> None:
        self._started: float | None = None
        self._last: _LastStep | None = None
        self._steps: deque[float] = deque(maxlen=KEPT_STEP_TIMES)
        self._pass_gaps: deque[float] = deque(maxlen=KEPT_STEP_TIMES)
        self._steps_left = 0
        self._passes_left = 0

    def start(self, now: float) -> None:
        """A new job: forget the last one's measurements."""
        self._last = None
        self._steps.clear()
        self._pass_gaps.clear()
        self._steps_left = self._passes_left = 0
        self._started = now

    def stop(self) -> None:
        self._started = None

    @property
    def running(self) -> bool:
        return self._started is not None

    def tick(self, progress: StepProgress, now: float) -> None:
        if self._started is None:
            self._started = now
        last = self._last
        if last is not None:
            if progress.pass_index == last.pass_index and progress.step == last.step + 1:
                self._steps.append(now - last.time)
            elif progress.pass_index == last.pass_index + 1 and progress.step == 1:
                self._pass_gaps.append(now - last.time)
        self._last = _LastStep(now, progress.pass_index, progress.step)
        passes_after = max(0, progress.pass_count - progress.pass_index)
        self._steps_left = (progress.steps - progress.step) + passes_after * progress.steps
        self._passes_left = passes_after

    def elapsed(self, now: float) -> float:
        return 0.0 if self._started is None else now - self._started

    def remaining(self, now: float) -> float | None:
        """Seconds left, or None until two steps of one pass have been timed."""
        if not self._steps or self._last is None:
            return None
        per_step = statistics.median(self._steps)
        between = statistics.median(self._pass_gaps) - per_step if self._pass_gaps else 0.0
        left = self._steps_left * per_step + self._passes_left * max(0.0, between)
        return max(0.0, left - (now - self._last.time))

    def describe(self, now: float) -> str:
        """``0:42 elapsed, about 1:30 left`` (only the elapsed time until it can estimate)."""
        text = f"{format_duration(self.elapsed(now))} elapsed"
        left = self.remaining(now)
        return text if left is None else f"{text}, about {format_duration(left)} left"
