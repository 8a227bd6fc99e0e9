"""The farm driver: hands tasks to worker actors and is the only writer of every project.

For each project, one task per character whose identity cache the project
lacks, then one task per panel window. A window's task takes the cache files
it reads as Ray object references, so the bytes travel worker to worker
through Ray's object store (no shared filesystem is assumed), or through a
folder that every worker and the driver see (``shared_dir``); a window is
handed to a worker once its caches exist, so no worker sits waiting. Each
returned panel is committed into its project as it arrives, after checking
its request id, so a driver that dies after N results has kept N takes and a
result is never committed twice. Ray restarts a killed worker and retries
its task; Ctrl+C stops every worker and leaves each project as its last
commit left it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from storyboard_app.engine.cache_store import IDENTITY_CACHE_DIR
from storyboard_app.engine.project_render import store_take, take_provenance
from storyboard_app.engine.render_request import PanelJob, PanelRendered
from storyboard_app.farm.plan import REQUEST_KEY, ProjectPlan
from storyboard_app.farm.worker import CacheFile, FarmWorker
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.files import atomic_write, project_path
from storyboard_app.project.records import TakeRecord
from storyboard_app.project.store import ProjectStore


@dataclass(frozen=True)
class FarmOptions:
    """How many workers, what each holds, and how often Ray may replace one."""

    workers: int = 1
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    max_restarts: int = 3
    max_task_retries: int = 3
    shared_dir: Path | None = None  # a folder all workers and the driver see, for caches


@dataclass(frozen=True)
class ProjectProgress:
    """Panels committed into one project so far, and the whole farm's time left."""

    folder: Path
    done: int
    total: int
    eta_s: float | None


@dataclass
class ProjectOutcome:
    """What the farm wrote into one project."""

    folder: Path
    takes: list[TakeRecord] = field(default_factory=list)
    already_done: int = 0
    caches_built: int = 0  # identity tasks run for this project
    caches_written: int = 0  # cache files written into it (built, or from another project)


@dataclass(frozen=True)
class IdentityTask:
    cache_file: str
    project: int
    character: str


@dataclass(frozen=True)
class WindowTask:
    project: int
    window: tuple[PanelJob, ...]
    cache_files: tuple[str, ...]


Task = IdentityTask | WindowTask
ProgressSink = Callable[[ProjectProgress], None]


class FarmError(StoryboardError):
    """A farm task failed for good (after Ray's retries)."""


@contextlib.contextmanager
def joined_cluster(address: str, *, worker_logs: bool = False) -> Iterator[None]:
    """Ray joined at ``address`` for the block ('local': a new instance on this machine).

    A caller that joined already (a test, a notebook) keeps its connection.
    ``worker_logs`` streams the workers' output here (``--verbose``); a failed
    task's error comes back either way.
    """
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(
            address=None if address == "local" else address,
            include_dashboard=False,
            log_to_driver=worker_logs,
            logging_level=logging.INFO if worker_logs else logging.WARNING,
        )
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FarmError(
            f"Cannot join the Ray cluster at {address}: {error}",
            "Start it with 'ray start --head' on the head machine, or use --address local.",
        ) from error
    try:
        yield
    finally:
        ray.shutdown()


def farm_render(
    plans: Sequence[ProjectPlan],
    options: FarmOptions = FarmOptions(),
    on_progress: ProgressSink = lambda progress: None,
) -> list[ProjectOutcome]:
    """Render every plan's missing panels on ``options.workers`` actors (Ray is initialised)."""
    actors = start_workers(options)
    with contextlib.ExitStack() as stores:
        opened = [stores.enter_context(ProjectStore.open(plan.folder)) for plan in plans]
        run = FarmRun(plans, opened, actors, on_progress, options.shared_dir)
        try:
            run.run()
            tidy_workers(actors)
        finally:
            for actor in actors:  # also on Ctrl+C: nothing keeps rendering
                ray.kill(actor, no_restart=True)
        return run.outcomes


def tidy_workers(actors: Sequence[Any], timeout_s: float = 30.0) -> None:
    """Let idle workers delete their cache copies before they are stopped.

    Not after Ctrl+C: a busy worker would finish its task first.
    """
    ray.wait([actor.close.remote() for actor in actors], num_returns=len(actors), timeout=timeout_s)


def start_workers(options: FarmOptions) -> list[Any]:
    """The worker actors; Ray restarts one that dies and retries the task it was running."""
    worker_class = ray.remote(FarmWorker).options(
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker,
        max_restarts=options.max_restarts,
        max_task_retries=options.max_task_retries,
    )
    return [worker_class.remote(options.shared_dir) for _ in range(max(1, options.workers))]


class FarmRun:
    """One farm render's state: tasks waiting, tasks running, caches ready, panels done."""

    def __init__(
        self,
        plans: Sequence[ProjectPlan],
        stores: Sequence[ProjectStore],
        actors: Sequence[Any],
        on_progress: ProgressSink,
        shared_dir: Path | None = None,
    ) -> None:
        self.plans, self.stores, self.on_progress = plans, stores, on_progress
        self.shared_dir = shared_dir
        self.idle = list(actors)
        self.queue: list[Task] = []
        self.running: dict[Any, tuple[Any, Task]] = {}  # object ref -> (actor, task)
        self.cache_refs: dict[str, Any] = {}  # cache file name -> ref of (name, bytes)
        self.ready: set[str] = set()
        self.needed_by: dict[str, set[int]] = {}  # cache file name -> projects lacking it
        self.outcomes = [ProjectOutcome(p.folder, already_done=p.already_done) for p in plans]
        # What each take is made from, read as the farm starts (as a local render does).
        self.provenance = [
            take_provenance(store, plan.request) for plan, store in zip(plans, stores, strict=True)
        ]
        self.started = time.monotonic()
        self.total = sum(plan.panel_count for plan in plans)
        self.done = 0

    def run(self) -> None:
        names = [self.cache_names(plan) for plan in self.plans]
        self.plan_caches(names)
        for index, plan in enumerate(self.plans):
            for window in plan.windows:
                named = dict.fromkeys(name for panel in window for name in panel.characters)
                files = tuple(names[index][name] for name in named)
                self.queue.append(WindowTask(index, window, files))
            self.report(index)
        while self.queue or self.running:
            self.dispatch()
            finished, _ = ray.wait(list(self.running), num_returns=1)
            self.finish(finished[0])

    def cache_names(self, plan: ProjectPlan) -> dict[str, str]:
        """Character -> the cache file name its panels will look up (asked of a worker)."""
        if not plan.windows:
            return {}
        return task_result(self.idle[0].cache_files.remote(plan.request))

    def plan_caches(self, names: Sequence[dict[str, str]]) -> None:
        """One identity task per cache no project has; a cache one project has, shipped.

        A cache shared by several projects (same character, same settings) is
        built or read once and written into every project that lacks it.
        """
        users: dict[str, list[tuple[int, str]]] = {}  # file -> (project, character)
        for index, project_names in enumerate(names):
            for character, cache_file in project_names.items():
                users.setdefault(cache_file, []).append((index, character))
        for cache_file, used_by in users.items():
            having = [i for i, _ in used_by if self.stored_cache(i, cache_file).is_file()]
            self.needed_by[cache_file] = {i for i, _ in used_by if i not in having}
            if having:
                data = self.stored_cache(having[0], cache_file).read_bytes()
                self.cache_refs[cache_file] = ray.put(self.ship(cache_file, data))
                self.keep_cache(cache_file, (cache_file, data))
            else:
                index, character = used_by[0]
                self.queue.append(IdentityTask(cache_file, index, character))

    def stored_cache(self, index: int, cache_file: str) -> Path:
        return project_path(self.plans[index].folder, IDENTITY_CACHE_DIR, cache_file)

    def ship(self, cache_file: str, data: bytes) -> CacheFile:
        """A project's cache as workers get it: its bytes, or its name in the shared folder."""
        if self.shared_dir is None:
            return cache_file, data
        target = self.shared_dir / cache_file
        if not target.is_file():
            atomic_write(target, data)
        return cache_file, None

    def dispatch(self) -> None:
        """Hand each idle worker the first task whose caches exist."""
        while self.idle:
            task = next((t for t in self.queue if self.can_start(t)), None)
            if task is None:
                return
            self.queue.remove(task)
            actor = self.idle.pop()
            self.running[self.submit(actor, task)] = (actor, task)

    def can_start(self, task: Task) -> bool:
        return isinstance(task, IdentityTask) or all(f in self.ready for f in task.cache_files)

    def submit(self, actor: Any, task: Task) -> Any:
        plan = self.plans[task.project]
        if isinstance(task, IdentityTask):
            ref = actor.build_identity.remote(plan.request, task.character)
            self.cache_refs[task.cache_file] = ref
            return ref
        caches = [self.cache_refs[name] for name in task.cache_files]
        return actor.render_window.remote(plan.window_request(task.window), *caches)

    def finish(self, ref: Any) -> None:
        actor, task = self.running.pop(ref)
        self.idle.append(actor)
        result = task_result(ref)
        if isinstance(task, IdentityTask):
            self.keep_cache(task.cache_file, result)
            self.outcomes[task.project].caches_built += 1
        else:
            self.commit_window(task, result)

    def keep_cache(self, cache_file: str, result: CacheFile) -> None:
        """Write a cache into each project that lacks it (the project keeps it)."""
        _, data = result
        if data is None:  # built into the shared folder
            data = (self.shared_dir / cache_file).read_bytes()
        for index in sorted(self.needed_by.get(cache_file, ())):
            folder = self.plans[index].folder
            atomic_write(self.stored_cache(index, cache_file), data, place=folder)
            self.outcomes[index].caches_written += 1
        self.ready.add(cache_file)

    def commit_window(self, task: WindowTask, panels: list[PanelRendered]) -> None:
        plan, store = self.plans[task.project], self.stores[task.project]
        jobs = {panel.scene_id: panel for panel in task.window}
        for rendered in panels:
            take = commit_panel(
                store,
                jobs[rendered.scene_id],
                rendered,
                plan.request_ids[rendered.scene_id],
                self.provenance[task.project].get(rendered.scene_id),
            )
            if take is not None:
                self.outcomes[task.project].takes.append(take)
            self.done += 1
            self.report(task.project)

    def report(self, index: int) -> None:
        outcome, plan = self.outcomes[index], self.plans[index]
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        done = len(outcome.takes)
        self.on_progress(ProjectProgress(plan.folder, done, plan.panel_count, eta))


def commit_panel(
    store: ProjectStore,
    panel: PanelJob,
    rendered: PanelRendered,
    request_id: str,
    provenance: dict[str, object] | None = None,
) -> TakeRecord | None:
    """Store a returned panel as its scene's new take, unless that request already has one.

    The request id goes into the take's record, so the check holds across
    drivers: a rerun, or a result delivered again after a retry, adds nothing.
    """
    for take in store.takes.list(panel.scene_id):
        if take.params.consistency.get(REQUEST_KEY) == request_id:
            return None
    consistency = {**rendered.params.consistency, REQUEST_KEY: request_id}
    params = dataclasses.replace(rendered.params, consistency=consistency)
    return store_take(store, panel, dataclasses.replace(rendered, params=params), provenance)


def task_result(ref: Any) -> Any:
    """A task's result; a task that failed for good becomes one clear error."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, StoryboardError):
            raise error.cause from None
        raise FarmError(
            f"A farm task failed: {error.cause!r}.", "Run with --verbose to see the worker's log."
        ) from None
    except ray.exceptions.RayActorError as error:
        raise FarmError(
            "A farm worker died more often than Ray may restart it and retry its task.",
            "Check the workers' memory and logs (ray logs); rerun to render what is missing.",
        ) from error
