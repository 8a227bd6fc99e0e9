"""Farm throughput: panels per minute with 1 and 2 Ray workers on the tiny model.

Builds temporary projects (two characters each), renders them once in this
process (``render_scenes``, one torch thread, as each Ray worker gets) and
then on a local Ray instance with 1 and with 2 workers, each time on fresh
copies of the projects. Workers are started and their model loaded before the
clock starts, so the figures compare rendering, not start-up. The scheduling
overhead per task is the 1-worker farm's wall time less the single-process
time, divided by its tasks (identity and window tasks): what shipping requests
and caches through Ray and committing the results cost.

Usage: ``python benchmarks/farm.py [--projects 3] [--panels 6] [--steps 4] [--size 64]``
(needs the farm extra; about a minute on a busy 2-core CPU). Last line:
``farm speedup 2/1 workers: X.XX`` (at most the number of free cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import ray
import torch

from storyboard_app.engine.project_render import (
    RenderOptions,
    build_render_request,
    load_pipeline_for,
    render_scenes,
)
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.tiny_models import tiny_model_folder
from storyboard_app.farm.driver import FarmOptions, FarmRun, start_workers
from storyboard_app.farm.plan import plan_project
from storyboard_app.project.store import ProjectStore


def build_projects(folder: Path, count: int, panels: int) -> list[Path]:
    folder.mkdir(parents=True)
    projects = []
    for index in range(count):
        with ProjectStore.create(folder / f"story{index}.storyboard") as store:
            store.characters.add("Mara", f"a woman with red hair, coat number {index}")
            store.characters.add("Tom", f"a tall man, scarf number {index}")
            for panel in range(panels):
                cast = ["[Mara]", "[Tom]", "[Mara] and [Tom]"][panel % 3]
                store.scenes.add(f"{cast} on the pier, moment {panel}")
            projects.append(store.folder)
    return projects


def fresh_copies(projects: list[Path], folder: Path) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    return [Path(shutil.copytree(p, folder / p.name)) for p in projects]


def single_process_seconds(projects: list[Path], options: RenderOptions) -> float:
    renderer = None
    started = 0.0
    for project in projects:
        with ProjectStore.open(project) as store:
            request = build_render_request(store, None, options)
            if renderer is None:
                renderer = StoryRenderer(load_pipeline_for(request))
                started = time.perf_counter()
            render_scenes(store, renderer, request)
    return time.perf_counter() - started


def farm_seconds(projects: list[Path], options: RenderOptions, workers: int) -> tuple[float, int]:
    """Wall time of one farm render on warm workers, and how many tasks it ran."""
    actors = start_workers(FarmOptions(workers=workers))
    stores = [ProjectStore.open(p) for p in projects]
    try:
        plans = [plan_project(store, None, options) for store in stores]
        ray.get([actor.cache_files.remote(plans[0].request) for actor in actors])  # model loaded
        run = FarmRun(plans, stores, actors, lambda progress: None)
        started = time.perf_counter()
        run.run()
        seconds = time.perf_counter() - started
        tasks = len(run.ready) + sum(len(p.windows) for p in plans)  # no cache existed before
        return seconds, tasks
    finally:
        for store in stores:
            store.close()
        for actor in actors:
            ray.kill(actor, no_restart=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=3)
    parser.add_argument("--panels", type=int, default=6)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    options = RenderOptions(
        model_source="tiny", steps=args.steps, width=args.size, height=args.size
    )
    panels = args.projects * args.panels
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        os.environ["STORYBOARD_CACHE_DIR"] = str(root / "cache")
        tiny_model_folder()
        originals = build_projects(root / "originals", args.projects, args.panels)
        torch.set_num_threads(1)
        single = single_process_seconds(fresh_copies(originals, root / "single"), options)
        env = {"STORYBOARD_CACHE_DIR": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
        try:
            one, tasks = farm_seconds(fresh_copies(originals, root / "one"), options, 1)
            two, _ = farm_seconds(fresh_copies(originals, root / "two"), options, 2)
        finally:
            ray.shutdown()
    print(f"{'run':<16}{'seconds':>10}{'panels/min':>12}")
    for name, seconds in (
        ("single process", single),
        ("farm, 1 worker", one),
        ("farm, 2 workers", two),
    ):
        print(f"{name:<16}{seconds:>10.2f}{panels / seconds * 60:>12.1f}")
    print(f"scheduling overhead per task: {(one - single) / tasks * 1000:.0f} ms ({tasks} tasks)")
    print(f"farm speedup 2/1 workers: {one / two:.2f}")


if __name__ == "__main__":
    main()
