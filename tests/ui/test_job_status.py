"""The status bar's job area: human wording, fixed widths, elapsed time and ETA, named queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support_ui import wait_task

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.job_status import JobStatusBar
from storyboard_app.ui.job_wording import (
    StepClock,
    describe_job,
    describe_step,
    format_duration,
    number_ranges,
    possessive,
)
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import Job, JobKind, JobRequest, StepProgress


def step(stage: str, label: str, at: int, steps: int = 30, index: int = 1, count: int = 1) -> Any:
    return StepProgress(1, stage, label, at, steps, index, count)


def test_steps_read_as_sentences() -> None:
    assert describe_step(step("identity", "Mara", 12)) == "Building Mara’s identity: step 12/30"
    assert describe_step(step("identity", "Chris", 1)) == "Building Chris’ identity: step 1/30"
    assert describe_step(step("panel", "4", 3), total=9, done=3) == "Panel 4 of 9: step 3/30"
    assert describe_step(step("panel", "7", 3), total=3, done=1) == "Panel 7 (2 of 3): step 3/30"
    assert describe_step(step("panel", "4, 5", 2), total=9, done=3) == "Panels 4–5 of 9: step 2/30"
    assert describe_step(step("panel", "4", 2)) == "Panel 4: step 2/30"
    assert describe_step(step("panel", "2", 2), total=1) == "Panel 2: step 2/30"


def test_jobs_name_their_panels() -> None:
    numbers = {10: 1, 11: 2, 12: 3, 13: 4, 14: 5}
    render = Job(1, JobRequest(JobKind.RENDER, Path("p"), (11, 13, 14)))
    assert describe_job(render, numbers) == "Render panels 2, 4–5"
    reroll = Job(2, JobRequest(JobKind.REROLL, Path("p"), (12,)))
    assert describe_job(reroll, numbers) == "Reroll panel 3"
    every = Job(3, JobRequest(JobKind.RENDER, Path("p")))
    assert describe_job(every, numbers) == "Render all 5 panels"
    assert describe_job(every) == "Render all panels"
    assert describe_job(Job(4, JobRequest(JobKind.IDENTITY, Path("p")))) == (
        "Build character identities"
    )
    assert number_ranges([9, 1, 2, 3, 5]) == "1–3, 5, 9"
    assert possessive("Mara") == "Mara’s"
    assert format_duration(7.4) == "0:07"
    assert format_duration(3723) == "1:02:03"


def test_the_estimate_comes_from_measured_step_times() -> None:
    clock = StepClock()
    clock.start(100.0)
    clock.tick(step("panel", "1", 1, steps=10, index=1, count=2), 101.0)
    assert clock.remaining(101.0) is None
    assert clock.describe(101.0) == "0:01 elapsed"
    for at in range(2, 11):
        clock.tick(step("panel", "1", at, steps=10, index=1, count=2), 101.0 + (at - 1) * 2)
    # 2 s a step measured; one pass of 10 steps left.
    assert clock.remaining(119.0) == pytest.approx(20.0)
    # A pass change that took 5 s (3 s more than a step) is overhead for every pass left.
    clock.tick(step("panel", "2", 1, steps=10, index=2, count=2), 124.0)
    assert clock.remaining(124.0) == pytest.approx(18.0)
    assert clock.remaining(130.0) == pytest.approx(12.0)  # it counts down between reports
    assert clock.describe(130.0) == "0:30 elapsed, about 0:12 left"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


@pytest.fixture
def opened(make_window: Any, fake_host: EngineHost, story_store: ProjectStore) -> MainWindow:
    story_store.update_settings(model_source="fake", window_size=1)
    window: MainWindow = make_window(fake_host)
    assert window.open_project(story_store.folder)
    return window


def positions(bar: JobStatusBar) -> list[tuple[int, int]]:
    return [(w.x(), w.width()) for w in (bar.progress, bar.cancel_button, bar.queue_button)]


def test_the_status_bar_names_panels_shows_time_and_keeps_its_widths(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, fake_host: EngineHost
) -> None:
    bar = opened.job_status
    bar._clock = FakeClock()
    workspace = opened.workspace
    assert workspace is not None
    idle = positions(bar)
    assert bar.label.text() == "Engine idle" and bar.progress.width() == 160
    fake_engine.steps = 40
    fake_engine.step_delay = 0.01
    ids = workspace.storyboard_model.scene_ids()
    running = workspace.render([ids[1], ids[3]])
    queued = workspace.render([ids[0]], reroll=True)
    qtbot.waitUntil(lambda: "step" in bar.label.toolTip())
    assert bar.label.toolTip().startswith("Render panels 2, 4\nPanel 2 (1 of 2): step")
    assert bar.queue_button.text() == "Queue: 1"
    assert bar.queue_menu.actions()[0].text() == "Remove “Reroll panel 1”"
    qtbot.waitUntil(lambda: "left" in bar.time_label.text())
    assert "elapsed" in bar.time_label.text()
    qtbot.waitUntil(lambda: "Panel 4 (2 of 2)" in bar.label.toolTip())
    assert positions(bar) == idle
    wait_task(qtbot, running)
    wait_task(qtbot, queued)
    qtbot.waitUntil(lambda: bar.label.text() == "Engine idle")
    assert bar.time_label.text() == "" and not bar.cancel_button.isEnabled()
    assert positions(bar) == idle


def test_identity_builds_name_the_character(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine
) -> None:
    bar = opened.job_status
    fake_engine.steps = 30
    fake_engine.step_delay = 0.01
    workspace = opened.workspace
    assert workspace is not None
    job = workspace.renders.build_identities()
    assert job is not None
    qtbot.waitUntil(lambda: "Building" in bar.label.toolTip())
    assert "Building Mara’s identity: step" in bar.label.toolTip()
    assert bar.label.toolTip().startswith("Build character identities\n")
    bar.cancel_button.click()
    qtbot.waitUntil(lambda: bar.label.text() == "Engine idle")
