"""FakeEngine: the job lifecycle of the real engine without torch, for fast tests.

It follows the real engine where the app can see it: it reads the project on
its own thread, refuses a project with no model, reports every step with
previews, checks for cancel between steps, stores each finished window of
panels as new active takes (a reroll draws new seeds for unlocked panels and
writes them to the scenes), and records the identities each take was made
with. Tests make it slow, or fail the next job, through its attributes.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image

from storyboard_app.project.records import CharacterRecord, SceneRecord, TakeParams
from storyboard_app.project.render_guard import DeletedPanels, check_panels_exist, check_prompts
from storyboard_app.project.seeds import derive_seed
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.staleness import panel_inputs, record_take_inputs
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.undo_support import character_signature, record_take_identities
from storyboard_app.worker.engine_api import CancelCheck, JobCancelled, JobError, Reporter
from storyboard_app.worker.jobs import DeviceInfo, ErrorInfo, ErrorKind, Job, JobKind

FAKE_STEPS = 4
PREVIEW_SIZE = 16


class FakeEngine:
    """Renders solid-colour panels; ``step_delay`` seconds per step (0 by default).

    ``failing_sources`` are model sources that fail to load; ``fail_next`` makes
    the next job fail with that error (then the engine works again).
    """

    def __init__(self, *, steps: int = FAKE_STEPS, step_delay: float = 0.0) -> None:
        self.steps = steps
        self.step_delay = step_delay
        self.failing_sources: set[str] = set()
        self.fail_next: ErrorInfo | None = None
        self.gpu_memory_gb: float | None = None
        self.jobs_run: list[Job] = []
        self.closed = False
        self._lock = threading.Lock()
        self._rerolls = 0

    def run(self, job: Job, reporter: Reporter, is_cancelled: CancelCheck) -> None:
        with self._lock:
            self.jobs_run.append(job)
            failure, self.fail_next = self.fail_next, None
        if failure is not None:
            raise JobError(failure)
        with ProjectStore.open(job.request.project) as store:
            settings = store.settings()
            self._check_source(settings.model_source)
            characters = {c.name: c for c in store.characters.list()}
            if job.kind is JobKind.IDENTITY:
                self._build_identities(list(characters), reporter, is_cancelled)
                return
            every = store.scenes.list()
            if job.scene_ids is not None:
                check_panels_exist((s.id for s in every), job.scene_ids)
            scenes = [s for s in every if _wanted(s, job.scene_ids)]
            check_prompts(scenes)
            seeds = {s.id: self._seed_for(s, job.kind) for s in scenes}
            windows = _windows(scenes, settings.consistency.window_size)
            deleted = DeletedPanels()
            for index, window in enumerate(windows):
                self._denoise(window, index + 1, len(windows), reporter, is_cancelled)
                for scene in window:
                    seed = seeds[scene.id]
                    done = deleted.store(
                        scene.number,
                        lambda s=scene, seed=seed: self._store_take(
                            store, s, seed, characters, settings, job.request.keep_picked
                        ),
                    )
                    if done is not None:
                        reporter.panel_done(scene.id, done)
            deleted.raise_if_any()

    def check_model(self, source: str) -> str:
        self._check_source(source)
        return f"Fake model {source!r}"

    def device_info(self, device: str | None) -> DeviceInfo:
        if self.gpu_memory_gb is None:
            return DeviceInfo(device or "cpu", None, None)
        preset = "low" if self.gpu_memory_gb <= 8 else "medium"
        return DeviceInfo(device or "cuda", self.gpu_memory_gb, preset)

    def close(self) -> None:
        self.closed = True

    def _check_source(self, source: str) -> None:
        if not source:
            raise JobError(ErrorInfo(ErrorKind.INPUT, "No model is configured for this project."))
        if source in self.failing_sources:
            raise JobError(
                ErrorInfo(ErrorKind.MODEL, f"{source} does not exist.", "Choose another model.")
            )

    def _seed_for(self, scene: SceneRecord, kind: JobKind) -> int:
        if kind is not JobKind.REROLL or scene.seed_locked:
            return scene.seed
        with self._lock:
            self._rerolls += 1
            return derive_seed(scene.seed, f"reroll:{self._rerolls}")

    def _build_identities(
        self, names: Sequence[str], reporter: Reporter, is_cancelled: CancelCheck
    ) -> None:
        for index, name in enumerate(names):
            for step in range(1, self.steps + 1):
                self._step(is_cancelled)
                reporter.progress("identity", name, step, self.steps, index + 1, len(names), ())

    def _denoise(
        self,
        window: Sequence[SceneRecord],
        pass_index: int,
        pass_count: int,
        reporter: Reporter,
        is_cancelled: CancelCheck,
    ) -> None:
        label = ", ".join(str(scene.number) for scene in window)
        ids = tuple(scene.id for scene in window)
        for step in range(1, self.steps + 1):
            self._step(is_cancelled)
            reporter.progress("panel", label, step, self.steps, pass_index, pass_count, ids)
            for scene in window:
                if reporter.wants_preview(scene.id):
                    level = int(255 * step / self.steps)
                    image = np.full((PREVIEW_SIZE, PREVIEW_SIZE, 3), level, "uint8")
                    reporter.preview(scene.id, image)

    def _step(self, is_cancelled: CancelCheck) -> None:
        if is_cancelled():
            raise JobCancelled()
        if self.step_delay:
            time.sleep(self.step_delay)

    def _store_take(
        self,
        store: ProjectStore,
        scene: SceneRecord,
        seed: int,
        characters: dict[str, CharacterRecord],
        settings: ProjectSettings,
        keep_picked: bool = False,
    ) -> int:
        """Store a finished panel as its new active take, recording what it was made from
        (as read when the job started, like the real engine); the take's id."""
        width, height = settings.render_size()
        params = TakeParams(
            width=width,
            height=height,
            model_source=settings.model_source,
            seed=seed,
            steps=self.steps,
            guidance=settings.guidance,
            scheduler=settings.scheduler,
            prompt=scene.prompt,
            negative_prompt=scene.negative_prompt,
            freeu=settings.freeu,
        )
        take = store.takes.add(scene.id, _png(seed), params, keep_picked=keep_picked)
        if seed != scene.seed:
            store.scenes.update(scene.id, seed=seed)
        named = [characters[name] for name in scene.character_names if name in characters]
        record_take_identities(store, take.id, {c.id: character_signature(c) for c in named})
        record_take_inputs(
            store, take.id, panel_inputs(scene, settings, characters, store.loras.list())
        )
        return take.id


def _wanted(scene: SceneRecord, scene_ids: Sequence[int] | None) -> bool:
    return scene_ids is None or scene.id in scene_ids


def _windows(scenes: Sequence[SceneRecord], size: int) -> list[Sequence[SceneRecord]]:
    return [scenes[i : i + size] for i in range(0, len(scenes), max(1, size))]


def _png(seed: int) -> bytes:
    colour = (seed % 251, (seed // 251) % 241, (seed // 60491) % 239)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, "PNG")
    return buffer.getvalue()
