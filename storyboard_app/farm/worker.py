"""A farm worker: one long-lived process that keeps a model loaded and serves any project.

It is a plain class; the driver makes it a Ray actor (one per GPU, or per CPU
slot). It never opens a project: it is sent plain requests and cache file
bytes, and answers with cache file bytes and finished panels. Cache files it
receives or builds live in its own temporary folder under the names the
engine looks up, so a render here reads them exactly as a render in the
project would.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

from storyboard_app.engine.project_render import load_pipeline_for
from storyboard_app.engine.render_request import PanelRendered, RenderEvent, RenderRequest
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.files import atomic_write

CacheFile = tuple[str, bytes | None]  # file name, its bytes (None: it is in the shared folder)


class FarmWorker:
    """Renders identity caches and panel windows on one loaded pipeline."""

    def __init__(self, shared_dir: Path | None = None) -> None:
        """``shared_dir``: a folder every worker sees; caches are read and built there."""
        self.shared = shared_dir is not None
        self.cache_dir = shared_dir or Path(tempfile.mkdtemp(prefix="storyboard-farm-"))
        self.model_key: tuple[str | None, ...] | None = None
        self.renderer: StoryRenderer | None = None

    def pid(self) -> int:
        """The worker's process id (tests kill it to check that the farm recovers)."""
        return os.getpid()

    def cache_files(self, request: RenderRequest) -> dict[str, str]:
        """The cache file name each character of ``request`` is looked up under."""
        renderer = self._renderer_for(request)
        local = self._local(request)
        return {c.name: self._cache_path(renderer, local, c.name).name for c in request.characters}

    def build_identity(self, request: RenderRequest, name: str) -> CacheFile:
        """Build the identity cache of character ``name``; its file name and bytes.

        In a shared folder only the name is returned: the others read the file there.
        """
        renderer = self._renderer_for(request)
        local = dataclasses.replace(
            self._local(request), characters=(request.character(name),), panels=()
        )
        renderer.build_identities(local, ignore_event)
        path = self._cache_path(renderer, local, name)
        return path.name, None if self.shared else path.read_bytes()

    def render_window(self, request: RenderRequest, *caches: CacheFile) -> list[PanelRendered]:
        """Render the panels of ``request`` against the given cache files; the finished panels."""
        for file_name, data in caches:
            target = self.cache_dir / Path(file_name).name
            if data is not None and not target.is_file():
                atomic_write(target, data)
        finished: list[PanelRendered] = []

        def keep(event: RenderEvent) -> None:
            if isinstance(event, PanelRendered):
                finished.append(event)

        self._renderer_for(request).render(self._local(request), keep)
        return finished

    def close(self) -> None:
        """Drop the model and this worker's own cache files (never the shared folder)."""
        self.renderer = None
        if not self.shared:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def _local(self, request: RenderRequest) -> RenderRequest:
        return dataclasses.replace(request, cache_dir=self.cache_dir)

    def _cache_path(self, renderer: StoryRenderer, request: RenderRequest, name: str) -> Path:
        path = renderer.identity_cache_file(request, name)
        if path is None:  # cannot happen: _local always gives the request a cache folder
            raise RuntimeError("The farm worker's request has no cache folder.")
        return path

    def _renderer_for(self, request: RenderRequest) -> StoryRenderer:
        """The loaded renderer, reloaded only when a request asks for another model."""
        key = (request.model_source, request.device, request.dtype, request.low_vram)
        if self.renderer is None or key != self.model_key:
            self.renderer = None  # two models never sit in memory at once
            self.renderer = StoryRenderer(load_pipeline_for(request))
            self.model_key = key
        return self.renderer


def ignore_event(event: RenderEvent) -> None:
    """Progress inside a task is not sent back: the driver reports panels done."""
