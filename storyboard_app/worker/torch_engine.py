"""TorchEngine: the real engine on the engine thread, with the model kept warm between jobs.

The host imports this module by name on the engine thread (see
``host.engine_by_name``), so torch is never imported by code the UI imports.
Engine failures become classified :class:`JobError` s here, and a model that
fails to load is forgotten, so the next job starts from a clean slate.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from storyboard_app.engine.devices import (
    choose_device,
    gpu_memory_gb,
    release_cached_memory,
    vram_preset,
)
from storyboard_app.engine.errors import DeviceError, ModelLoadError, OutOfMemoryError
from storyboard_app.engine.loading import (
    ARCHITECTURE_LABELS,
    ModelSource,
    detect_architecture,
    set_scheduler,
)
from storyboard_app.engine.project_render import (
    RenderOptions,
    build_render_request,
    load_pipeline_for,
    render_scenes,
)
from storyboard_app.engine.render_request import (
    EventSink,
    IdentityReady,
    PanelRendered,
    RenderCancelled,
    RenderEvent,
    RenderProgress,
    RenderRequest,
)
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.tiny_models import TINY_SOURCES
from storyboard_app.project.render_guard import raise_for_deleted
from storyboard_app.project.store import ProjectStore
from storyboard_app.worker.engine_api import CancelCheck, JobCancelled, JobError, Reporter
from storyboard_app.worker.jobs import DeviceInfo, ErrorInfo, ErrorKind, Job, JobKind

logger = logging.getLogger(__name__)

SOURCE_KIND_LABELS = {
    "hub": "from the Hugging Face cache",
    "folder": "folder",
    "single_file": "file",
}


@dataclasses.dataclass(frozen=True)
class PipelineKey:
    """What needs a reload when it changes (a scheduler change does not)."""

    model_source: str
    device: str | None
    dtype: str | None
    low_vram: str | None


class TorchEngine:
    """Renders jobs with diffusers; one pipeline stays loaded until another one is needed."""

    def __init__(self, cpu_threads: int | None = None) -> None:
        _quiet_libraries()
        # Leave one core to the UI thread: on a CPU render torch would otherwise
        # take them all and the window would stutter.
        torch.set_num_threads(cpu_threads or max(1, (os.cpu_count() or 2) - 1))
        self._renderer: StoryRenderer | None = None
        self._key: PipelineKey | None = None

    def run(self, job: Job, reporter: Reporter, is_cancelled: CancelCheck) -> None:
        with _classified_errors(self), ProjectStore.open(job.request.project) as store:
            options = job.request.options
            render_options = RenderOptions(
                device=options.device,
                dtype=options.dtype,
                low_vram=options.low_vram,
                reroll=job.kind is JobKind.REROLL,
            )
            if job.kind is JobKind.IDENTITY:
                request = build_render_request(store, None, render_options)
                if request.characters:
                    self._renderer_for(request).build_identities(
                        request, _progress_only(reporter), is_cancelled
                    )
                return
            request = build_render_request(store, job.scene_ids, render_options)
            renderer = self._renderer_for(request)
            on_event = _TakeReporter(store, reporter)
            keep = job.request.keep_picked
            takes = render_scenes(
                store, renderer, request, on_event, is_cancelled, keep_picked=keep
            )
            stored = {take.scene_id for take in takes}
            # Panels deleted elsewhere mid-render were skipped: the artist hears it once.
            raise_for_deleted([p.number for p in request.panels if p.scene_id not in stored])

    def check_model(self, source: str) -> str:
        source = source.strip()
        if source in TINY_SOURCES:
            return f"Tiny random test model ({ARCHITECTURE_LABELS[TINY_SOURCES[source]]})"
        with _classified_errors(None):
            parsed = ModelSource.parse(source)
            architecture = detect_architecture(parsed)
        label = ARCHITECTURE_LABELS[architecture]
        return f"{label} model, {SOURCE_KIND_LABELS[parsed.kind]}: {parsed.location}"

    def device_info(self, device: str | None) -> DeviceInfo:
        with _classified_errors(None):
            chosen = choose_device(device)
            memory = gpu_memory_gb(chosen)
        return DeviceInfo(chosen, memory, vram_preset(memory) if memory is not None else None)

    def close(self) -> None:
        self.forget_model()

    def forget_model(self) -> None:
        """Drop the loaded pipeline and give its memory back before anything else loads."""
        self._renderer = None
        self._key = None
        gc.collect()
        release_cached_memory()

    def _renderer_for(self, request: RenderRequest) -> StoryRenderer:
        key = PipelineKey(request.model_source, request.device, request.dtype, request.low_vram)
        if self._renderer is None or key != self._key:
            self.forget_model()
            self._renderer = StoryRenderer(load_pipeline_for(request))
            self._key = key
        elif self._renderer.loaded.scheduler != request.scheduler:
            self._renderer = StoryRenderer(set_scheduler(self._renderer.loaded, request.scheduler))
        return self._renderer


class _TakeReporter:
    """Forwards render events to the reporter, with the id of each new take.

    What a take was made from is recorded with it by ``render_scenes``.
    """

    def __init__(self, store: ProjectStore, reporter: Reporter) -> None:
        self._store = store
        self._reporter = reporter
        self._progress = _progress_only(reporter)

    def __call__(self, event: RenderEvent) -> None:
        if isinstance(event, PanelRendered):
            take_id = self._store.takes.list(event.scene_id)[-1].id
            self._reporter.panel_done(event.scene_id, take_id)
        else:
            self._progress(event)


def _progress_only(reporter: Reporter) -> EventSink:
    """Report steps and previews of real panels and characters (not throwaway portraits)."""

    def on_event(event: RenderEvent) -> None:
        if isinstance(event, RenderProgress):
            scene_ids = tuple(key for key in event.previews if isinstance(key, int) and key > 0)
            reporter.progress(
                event.stage,
                event.label,
                event.step,
                event.steps,
                event.pass_index,
                event.pass_count,
                scene_ids,
            )
            for key in event.previews:
                if (isinstance(key, str) or key > 0) and reporter.wants_preview(key):
                    reporter.preview(key, event.previews[key])
        elif isinstance(event, IdentityReady):
            logger.info("identity of %s ready (built: %s)", event.character, event.built)

    return on_event


@contextmanager
def _classified_errors(engine: TorchEngine | None) -> Iterator[None]:
    """Turn engine exceptions into classified JobErrors; a failed load forgets the model."""
    try:
        yield
    except RenderCancelled as exc:
        raise JobCancelled() from exc
    except OutOfMemoryError as exc:
        raise JobError(ErrorInfo(ErrorKind.OUT_OF_MEMORY, exc.message, exc.hint)) from exc
    except ModelLoadError as exc:
        if engine is not None:
            engine.forget_model()
        raise JobError(ErrorInfo(ErrorKind.MODEL, exc.message, exc.hint)) from exc
    except DeviceError as exc:
        raise JobError(ErrorInfo(ErrorKind.DEVICE, exc.message, exc.hint)) from exc


def _quiet_libraries() -> None:
    """Keep library progress bars and notices out of the app's log."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
