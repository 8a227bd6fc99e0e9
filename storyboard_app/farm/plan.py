"""What a farm render will do, read from the projects before any worker starts.

Everything here is plain data built with the engine's own request functions,
so a farm render asks for exactly what ``storyboard render`` would. Each panel
gets a request id: a hash of everything its picture is made from. The id is
recorded in the take it becomes, so a rerun (after a crash, a Ctrl+C, a
killed worker) renders only the panels that have no such take yet, and a
result that arrives twice is committed once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard_app.engine.project_render import RenderOptions, build_render_request
from storyboard_app.engine.render_request import PanelJob, RenderRequest
from storyboard_app.engine.story_renderer import batched
from storyboard_app.project.store import ProjectStore

REQUEST_KEY = "farm_request"  # in a take's consistency record, beside the other inputs


@dataclass(frozen=True)
class ProjectPlan:
    """One project's part of a farm render: the panels still missing, in their windows."""

    folder: Path
    request: RenderRequest  # only the missing panels; cache_dir is the project's cache folder
    windows: tuple[tuple[PanelJob, ...], ...]
    request_ids: Mapping[int, str]  # scene id -> request id
    already_done: int

    @property
    def panel_count(self) -> int:
        return sum(len(window) for window in self.windows)

    def window_request(self, window: Sequence[PanelJob]) -> RenderRequest:
        """The request rendering one window: its panels and the characters they name."""
        return subset_request(self.request, window)


def plan_project(
    store: ProjectStore, scene_ids: Sequence[int] | None, options: RenderOptions
) -> ProjectPlan:
    """The project's missing panels, grouped in the windows a full render would use.

    Keeping the full render's windows (less the panels already done) keeps each
    pipeline call the same as in a single-process render of the whole story.
    """
    full = build_render_request(store, scene_ids, options)
    ids = {panel.scene_id: request_id(full, panel) for panel in full.panels}
    done = committed_requests(store, ids)
    windows = tuple(
        kept
        for window in batched(full.panels, full.consistency.window_size)
        if (kept := tuple(p for p in window if ids[p.scene_id] not in done))
    )
    missing = [panel for window in windows for panel in window]
    return ProjectPlan(
        folder=store.folder,
        request=subset_request(full, missing),
        windows=windows,
        request_ids={p.scene_id: ids[p.scene_id] for p in missing},
        already_done=len(full.panels) - len(missing),
    )


def subset_request(request: RenderRequest, panels: Sequence[PanelJob]) -> RenderRequest:
    """``request`` for ``panels`` only, with just the characters they name."""
    named = dict.fromkeys(name for panel in panels for name in panel.characters)
    return dataclasses.replace(
        request,
        panels=tuple(panels),
        characters=tuple(c for c in request.characters if c.name in named),
    )


def request_id(request: RenderRequest, panel: PanelJob) -> str:
    """A hash of everything the panel's picture is made from (not of when it was asked for)."""
    inputs = {
        "params": dataclasses.asdict(request.take_params(panel, "")),
        "characters": [dataclasses.asdict(request.character(n)) for n in panel.characters],
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def committed_requests(store: ProjectStore, ids: Mapping[int, str]) -> set[str]:
    """The request ids among ``ids`` that already have a take in their scene."""
    done: set[str] = set()
    for scene_id, wanted in ids.items():
        recorded = (take.params.consistency.get(REQUEST_KEY) for take in store.takes.list(scene_id))
        if wanted in recorded:
            done.add(wanted)
    return done
