"""The engine host: queue order, signals, cancel, removal, errors, awaiting, clean shutdown."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storyboard_app.project.store import ProjectStore
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost, engine_by_name
from storyboard_app.worker.jobs import (
    ErrorInfo,
    ErrorKind,
    JobKind,
    JobOutcome,
    JobRequest,
    JobStatus,
)


def three_panel_project(store: ProjectStore) -> list[int]:
    store.update_settings(model_source="fake")
    store.characters.add("Mara", "a woman with short red hair")
    return [store.scenes.add(f"[Mara] scene {i}").id for i in range(3)]


def render(store: ProjectStore, *scene_ids: int, kind: JobKind = JobKind.RENDER) -> JobRequest:
    return JobRequest(kind, store.folder, tuple(scene_ids) or None)


def test_a_job_reports_steps_previews_panels_and_its_outcome(
    qtbot: Any, store: ProjectStore, fake_host: EngineHost, run_async: Any
) -> None:
    scene_ids = three_panel_project(store)
    progress: list[Any] = []
    previews: list[Any] = []
    panels: list[Any] = []
    fake_host.progressed.connect(progress.append)
    fake_host.previewed.connect(previews.append)
    fake_host.panelDone.connect(panels.append)

    outcome = run_async(fake_host.run(render(store)))

    assert outcome.status is JobStatus.FINISHED
    assert [p.scene_id for p in panels] == scene_ids
    assert outcome.take_ids == tuple(p.take_id for p in panels)
    assert [p.step for p in progress] == [1, 2, 3, 4]
    assert progress[-1].scene_ids == tuple(scene_ids) and progress[-1].fraction == 1.0
    assert {p.key for p in previews} == set(scene_ids)
    assert all(s.active_take_id is not None for s in store.scenes.list())
    assert fake_host.jobs() == []


def test_jobs_run_in_order_and_a_queued_job_can_be_removed(
    qtbot: Any, store: ProjectStore, fake_engine: FakeEngine, fake_host: EngineHost
) -> None:
    first, second, third = three_panel_project(store)
    fake_engine.step_delay = 0.02
    jobs = [fake_host.submit(render(store, scene_id)) for scene_id in (first, second, third)]
    assert [j.id for j in fake_host.jobs()] == [j.id for j in jobs]

    with qtbot.waitSignal(fake_host.jobEnded, check_params_cb=lambda o: o.job_id == jobs[1].id):
        fake_host.cancel(jobs[1].id)
    with qtbot.waitSignal(fake_host.jobEnded, timeout=5000, check_params_cb=_is(jobs[2].id)):
        pass

    assert [job.id for job in fake_engine.jobs_run] == [jobs[0].id, jobs[2].id]
    assert store.scenes.get(second).take_count == 0
    assert store.scenes.get(third).take_count == 1


def test_cancelling_the_running_job_stores_no_partial_take(
    qtbot: Any, store: ProjectStore, fake_engine: FakeEngine, fake_host: EngineHost
) -> None:
    three_panel_project(store)
    fake_engine.steps = 50
    fake_engine.step_delay = 0.01
    job = fake_host.submit(render(store))
    with qtbot.waitSignal(fake_host.progressed, check_params_cb=lambda p: p.step == 3):
        pass
    assert fake_host.status(job.id) is JobStatus.RUNNING

    with qtbot.waitSignal(fake_host.jobEnded, timeout=5000) as ended:
        fake_host.cancel(job.id)

    assert ended.args[0] == JobOutcome(job.id, JobStatus.CANCELLED)
    assert all(scene.take_count == 0 for scene in store.scenes.list())


def test_a_failed_job_reports_its_error_and_the_next_job_succeeds(
    qtbot: Any, store: ProjectStore, fake_engine: FakeEngine, fake_host: EngineHost, run_async: Any
) -> None:
    three_panel_project(store)
    fake_engine.fail_next = ErrorInfo(ErrorKind.OUT_OF_MEMORY, "The GPU ran out of memory.")
    failures: list[Any] = []
    fake_host.jobFailed.connect(lambda job, error: failures.append(error))

    failed = run_async(fake_host.run(render(store)))
    succeeded = run_async(fake_host.run(render(store)))

    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.kind is ErrorKind.OUT_OF_MEMORY
    assert failures == [failed.error]
    assert succeeded.status is JobStatus.FINISHED and len(succeeded.take_ids) == 3


def test_an_unexpected_exception_becomes_an_internal_error(
    store: ProjectStore, fake_engine: FakeEngine, fake_host: EngineHost, run_async: Any
) -> None:
    three_panel_project(store)
    # Like the real engine, a panel that is not there (deleted meanwhile) is said in words.
    outcome = run_async(fake_host.run(JobRequest(JobKind.RENDER, store.folder, (999,))))
    assert outcome.status is JobStatus.FAILED and outcome.take_ids == ()
    assert outcome.error is not None and outcome.error.kind is ErrorKind.INPUT

    broken = JobRequest(JobKind.RENDER, store.folder / "missing.storyboard")
    outcome = run_async(fake_host.run(broken))
    assert outcome.status is JobStatus.FAILED
    assert outcome.error is not None and outcome.error.kind is ErrorKind.PROJECT


def test_model_checks_run_beside_the_queue(
    store: ProjectStore, fake_engine: FakeEngine, fake_host: EngineHost, run_async: Any
) -> None:
    fake_engine.failing_sources.add("/nowhere/model.safetensors")
    good = run_async(fake_host.check_model("tiny"))
    bad = run_async(fake_host.check_model("/nowhere/model.safetensors"))
    assert good.ok and "tiny" in good.summary
    assert not bad.ok and bad.error is not None and bad.error.kind is ErrorKind.MODEL


def test_shutdown_cancels_the_running_job_and_stops_the_thread(
    qtbot: Any, store: ProjectStore, make_host: Any
) -> None:
    three_panel_project(store)
    engine = FakeEngine(steps=10_000, step_delay=0.01)
    host = make_host(lambda: engine)
    ended: list[JobOutcome] = []
    host.jobEnded.connect(ended.append)
    running = host.submit(render(store))
    waiting = host.submit(render(store))
    qtbot.waitUntil(lambda: host.status(running.id) is JobStatus.RUNNING)

    assert host.shutdown(5000)

    assert not host.is_running() and engine.closed
    assert {o.job_id: o.status for o in ended} == {
        running.id: JobStatus.CANCELLED,
        waiting.id: JobStatus.CANCELLED,
    }
    assert all(scene.take_count == 0 for scene in store.scenes.list())


def _is(job_id: int) -> Any:
    return lambda outcome: outcome.job_id == job_id


def test_asking_for_an_outcome_after_the_job_ended_still_answers(
    qtbot: Any, store: ProjectStore, fake_host: EngineHost, run_async: Any
) -> None:
    three_panel_project(store)
    with qtbot.waitSignal(fake_host.jobEnded):
        job = fake_host.submit(render(store))

    async def late() -> JobOutcome:
        return await fake_host.outcome(job.id)

    assert run_async(late()).status is JobStatus.FINISHED


def test_what_the_engine_imported_is_left_out_of_later_collections(
    qtbot: Any, make_host: Callable[..., EngineHost], fake_engine: FakeEngine
) -> None:
    """Once the engine is made, everything alive is frozen out of the garbage collector:
    with torch imported a full collection took about 270 ms, with the GIL held, and
    froze the window (opening a 1,000-panel project set one off)."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    make_host(lambda: fake_engine)
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=10_000)


def test_the_engine_module_s_first_import_freezes_what_it_brought(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freezing right after the import, before the engine is made, leaves less time for a
    full collection to fall (a project opened meanwhile set one off)."""
    (tmp_path / "slow_engine_module.py").write_text("class Engine:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    gc.unfreeze()
    create = engine_by_name("slow_engine_module:Engine")
    assert gc.get_freeze_count() == 0  # nothing is imported before it is asked for
    create()
    assert gc.get_freeze_count() > 0
