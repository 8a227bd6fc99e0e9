"""The real engine behind the host, with the tiny random model: warm model, errors, recovery."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

from storyboard_app.project.staleness import panel_stale_reasons
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.undo_support import character_signature, take_identities
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import ErrorKind, JobKind, JobRequest, JobStatus


def tiny_story(store: ProjectStore, steps: int = 2) -> list[int]:
    store.update_settings(model_source="tiny", width=64, height=64, steps=steps)
    store.characters.add("Mara", "a woman with short red hair")
    return [store.scenes.add(f"[Mara] scene {i}").id for i in range(3)]


def test_render_records_takes_with_their_identities(
    store: ProjectStore, tiny_host: EngineHost, run_async: Any
) -> None:
    scene_ids = tiny_story(store)
    outcome = run_async(tiny_host.run(JobRequest(JobKind.RENDER, store.folder)), timeout=60_000)

    assert outcome.status is JobStatus.FINISHED, outcome.error
    assert len(outcome.take_ids) == 3
    mara = store.characters.get("Mara")
    for scene_id in scene_ids:
        take = store.takes.get(store.scenes.get(scene_id).active_take_id)
        assert take_identities(take) == {mara.id: character_signature(mara)}
        assert panel_stale_reasons(store, store.scenes.get(scene_id)) == []
    store.update_settings(steps=store.settings().steps + 1)
    assert [r.text for r in panel_stale_reasons(store, store.scenes.get(scene_ids[0]))] == [
        "settings changed"
    ]


def test_a_failing_model_source_is_reported_and_the_next_job_succeeds(
    store: ProjectStore, tiny_host: EngineHost, run_async: Any
) -> None:
    tiny_story(store)
    store.update_settings(model_source=str(store.folder / "no-such-model.safetensors"))
    failed = run_async(tiny_host.run(JobRequest(JobKind.RENDER, store.folder)), timeout=60_000)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.kind is ErrorKind.MODEL
    assert "no-such-model" in failed.error.message

    store.update_settings(model_source="tiny")
    request = JobRequest(JobKind.REROLL, store.folder, (store.scenes.at(2).id,))
    rerolled = run_async(tiny_host.run(request), timeout=60_000)
    assert rerolled.status is JobStatus.FINISHED and len(rerolled.take_ids) == 1


def test_identity_job_builds_caches_without_adding_takes(
    store: ProjectStore, tiny_host: EngineHost, run_async: Any
) -> None:
    tiny_story(store)
    outcome = run_async(tiny_host.run(JobRequest(JobKind.IDENTITY, store.folder)), timeout=60_000)
    assert outcome.status is JobStatus.FINISHED, outcome.error
    assert list((store.folder / "cache" / "identity").glob("mara-*.safetensors"))
    assert all(scene.take_count == 0 for scene in store.scenes.list())


def test_model_check_describes_a_source_or_explains_the_problem(
    tiny_host: EngineHost, run_async: Any, tmp_path: Any
) -> None:
    good = run_async(tiny_host.check_model("tiny"), timeout=60_000)
    bad = run_async(tiny_host.check_model(str(tmp_path / "model.ckpt")), timeout=60_000)
    assert good.ok and "Tiny" in good.summary
    assert not bad.ok and bad.error is not None and bad.error.kind is ErrorKind.MODEL


def test_signals_keep_their_references_to_true() -> None:
    """Guards the PySide6 6.12.0 workaround: emits must not drop references to bools."""

    class Probe(QObject):
        ping = Signal(object)

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(500):
        probe.ping.emit(1)
    assert sys.getrefcount(True) >= before
