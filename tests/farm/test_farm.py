"""Farm rendering on a local Ray instance with the tiny model: same pictures, faults, reruns.

Ray starts once for the module (two CPU slots); each test makes its own small
projects. Single-process renders run with one torch thread, as Ray's workers
do, since CPU kernels round differently with the thread count.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from storyboard_app.cli import main
from storyboard_app.engine.cache_store import IDENTITY_CACHE_DIR
from storyboard_app.engine.project_render import (
    RenderOptions,
    build_render_request,
    load_pipeline_for,
    render_scenes,
)
from storyboard_app.engine.render_request import PanelRendered
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.tiny_models import tiny_model_folder
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

STORIES = {
    "harbour": "[Mara] a woman with red hair\n[Tom] a tall man, grey coat\n\n"
    "[Mara] climbs the stairs\n[NC] the sea at night\n[Tom] waves\n[Mara] [Tom] talk\n",
    "forest": "[Mara] a woman with red hair\n\n[Mara] walks in the woods\n[Mara] finds a fox\n",
    "city": "[Ina] a girl with a yellow umbrella\n\n[Ina] crosses the street\n[NC] rain\n"
    "[Ina] laughs\n",
}
OPTIONS = RenderOptions(model_source="tiny", steps=2, width=64, height=64)
RENDER_ARGS = ["--model", "tiny", "--steps", "2", "--size", "64x64"]


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A local Ray instance with two CPU slots; workers build the tiny model in a temp cache."""
    ray = pytest.importorskip("ray")
    cache = tmp_path_factory.mktemp("storyboard_cache")
    workers_temp = tmp_path_factory.mktemp("workers_temp")
    env = {"STORYBOARD_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    worker_env = {**env, "TMPDIR": str(workers_temp)}  # not Ray's own: its socket paths are short
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setenv("WORKERS_TEMP", str(workers_temp))
        tiny_model_folder()  # built once here, not by two workers at once
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            runtime_env={"env_vars": worker_env},
            log_to_driver=False,
        )
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_projects(folder: Path, names: list[str]) -> list[Path]:
    projects = []
    for name in names:
        script = folder / f"{name}.txt"
        script.write_text(STORIES[name])
        assert main(["-q", "new", str(folder / name), "--from", str(script)]) == 0
        projects.append(folder / f"{name}.storyboard")
    return projects


def worker_folders() -> set[Path]:
    """The workers' temporary cache folders (their TMPDIR is the module's)."""
    return set(Path(os.environ["WORKERS_TEMP"]).glob("storyboard-farm-*"))


def take_hashes(project: Path) -> dict[int, list[str]]:
    """Panel number -> SHA-256 of each of its takes' media, oldest first."""
    with ProjectStore.open(project) as store:
        return {
            scene.number: [
                hashlib.sha256(store.media.path(take.media).read_bytes()).hexdigest()
                for take in store.takes.list(scene.id)
            ]
            for scene in store.scenes.list()
        }


def render_single_process(project: Path) -> None:
    with ProjectStore.open(project) as store:
        request = build_render_request(store, None, OPTIONS)
        render_scenes(store, StoryRenderer(load_pipeline_for(request)), request)


def plans_of(projects: list[Path]) -> list:
    from storyboard_app.farm.plan import plan_project

    plans = []
    for project in projects:
        with ProjectStore.open(project) as store:
            plans.append(plan_project(store, None, OPTIONS))
    return plans


@pytest.mark.farm
def test_three_projects_on_two_workers_match_single_process_renders(
    local_ray: object, tmp_path: Path, one_thread: None, capsys: pytest.CaptureFixture[str]
) -> None:
    projects = make_projects(tmp_path, list(STORIES))
    copies = [shutil.copytree(p, tmp_path / "single" / p.name) for p in projects]
    for copy in copies:
        render_single_process(Path(copy))
    capsys.readouterr()
    args = ["farm", "render", *map(str, projects), *RENDER_ARGS, "--workers", "2", "--json"]
    before = worker_folders()
    assert main(args) == 0
    assert worker_folders() <= before  # the workers deleted their cache copies
    summary = json.loads(capsys.readouterr().out)
    assert [len(p["takes"]) for p in summary["projects"]] == [4, 2, 3]
    for project, copy in zip(projects, copies, strict=True):
        farm, single = take_hashes(project), take_hashes(Path(copy))
        assert farm == single and all(len(h) == 1 for h in farm.values())
        cached = sorted(p.name for p in (project / IDENTITY_CACHE_DIR).iterdir())
        assert cached == sorted(p.name for p in (Path(copy) / IDENTITY_CACHE_DIR).iterdir())


@pytest.mark.farm
def test_a_killed_worker_is_replaced_and_every_panel_is_committed_once(
    local_ray: object, tmp_path: Path
) -> None:
    """With the caches in a shared folder: the replacement reads them there."""
    import ray

    from storyboard_app.farm.driver import FarmOptions, FarmRun, start_workers

    projects = make_projects(tmp_path, ["harbour", "city"])
    plans = plans_of(projects)
    shared = tmp_path / "shared"
    shared.mkdir()
    actors = start_workers(FarmOptions(workers=2, shared_dir=shared))
    pids = {actor._actor_id: ray.get(actor.pid.remote()) for actor in actors}
    killed: list[int] = []

    def kill_a_busy_worker(_progress: object) -> None:
        busy = [actor for actor, _task in run.running.values()]
        if busy and not killed:
            killed.append(pids[busy[0]._actor_id])
            os.kill(killed[0], signal.SIGKILL)

    stores = [ProjectStore.open(p) for p in projects]
    try:
        run = FarmRun(plans, stores, actors, kill_a_busy_worker, shared)
        run.run()
        new_pids = {ray.get(actor.pid.remote()) for actor in actors}
    finally:
        for store in stores:
            store.close()
        for actor in actors:
            ray.kill(actor, no_restart=True)
    assert killed and killed[0] not in new_pids  # its actor came back in a new process
    for project in projects:
        assert all(len(hashes) == 1 for hashes in take_hashes(project).values())
        for cache in (project / IDENTITY_CACHE_DIR).iterdir():
            assert cache.read_bytes() == (shared / cache.name).read_bytes()
    assert len(list(shared.glob("*.safetensors"))) == 3  # Mara, Tom, Ina


@pytest.mark.farm
def test_an_interrupted_farm_render_reruns_only_what_is_missing(
    local_ray: object, tmp_path: Path
) -> None:
    import ray

    from storyboard_app.farm.driver import FarmOptions, farm_render

    projects = make_projects(tmp_path, ["harbour", "forest"])

    def interrupt_after_the_first_take(progress: object) -> None:
        if progress.done:  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        farm_render(plans_of(projects), FarmOptions(workers=2), interrupt_after_the_first_take)
    wait_for_free_cpus(ray, 2)  # Ctrl+C stopped every worker
    done_first = sum(len(h) for p in projects for h in take_hashes(p).values())
    plans = plans_of(projects)
    assert 1 <= done_first < 6
    assert sum(plan.panel_count for plan in plans) == 6 - done_first
    outcomes = farm_render(plans, FarmOptions(workers=2))
    assert sum(len(o.takes) for o in outcomes) == 6 - done_first
    for project in projects:
        assert all(len(hashes) == 1 for hashes in take_hashes(project).values())
    assert sum(plan.panel_count for plan in plans_of(projects)) == 0


@pytest.mark.farm
def test_a_cache_one_project_has_is_copied_into_another_not_built_again(
    local_ray: object, tmp_path: Path
) -> None:
    from storyboard_app.farm.driver import FarmOptions, farm_render
    from storyboard_app.farm.plan import plan_project

    first = make_projects(tmp_path, ["forest"])[0]
    (tmp_path / "again").mkdir()
    second = make_projects(tmp_path / "again", ["forest"])[0]  # the same Mara, no cache yet
    with ProjectStore.open(first) as store:
        plans = [plan_project(store, [store.scenes.list()[0].id], OPTIONS)]
    (started,) = farm_render(plans, FarmOptions(workers=1))
    assert (started.caches_built, len(started.takes)) == (1, 1)
    outcomes = farm_render(plans_of([first, second]), FarmOptions(workers=1))
    assert [len(o.takes) for o in outcomes] == [1, 2]
    assert [(o.caches_built, o.caches_written) for o in outcomes] == [(0, 0), (0, 1)]
    (cache,) = (first / IDENTITY_CACHE_DIR).iterdir()
    assert (second / IDENTITY_CACHE_DIR / cache.name).read_bytes() == cache.read_bytes()


@pytest.mark.farm
def test_a_model_the_workers_cannot_load_is_one_clear_error(
    local_ray: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project,) = make_projects(tmp_path, ["forest"])
    args = ["farm", "render", str(project), "--model", str(tmp_path / "nowhere"), "--size", "64x64"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "nowhere" in err and "Traceback" not in err
    assert all(hashes == [] for hashes in take_hashes(project).values())
    wait_for_free_cpus(local_ray, 2)


@pytest.mark.farm
def test_ctrl_c_stops_the_workers_and_keeps_what_was_committed(
    local_ray: object, tmp_path: Path
) -> None:
    """A real ``storyboard farm render`` process, joined to this Ray instance, gets SIGINT."""
    projects = make_projects(tmp_path, ["harbour", "forest"])
    slow = ["--model", "tiny", "--steps", "20", "--size", "96x96", "--workers", "2"]
    cli = "import sys; from storyboard_app.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", cli, "farm", "render", *map(str, projects)]
    process = subprocess.Popen(
        [*command, *slow, "--address", "auto"],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored
    )
    assert process.stderr is not None
    for line in process.stderr:
        if " 1/" in line:  # a first panel is committed
            process.send_signal(signal.SIGINT)
            break
    err = process.stderr.read()
    assert process.wait(timeout=60) == 130 and "interrupted" in err, err
    wait_for_free_cpus(local_ray, 2)
    counts = [len(h) for p in projects for h in take_hashes(p).values()]
    assert set(counts) <= {0, 1} and 1 <= sum(counts) < 6
    for project in projects:
        with ProjectStore.open(project) as store:
            assert store.integrity_check() == ["ok"]


def wait_for_free_cpus(ray: object, count: float, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while ray.available_resources().get("CPU", 0) < count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "farm workers were left running"
        time.sleep(0.2)


def test_a_result_delivered_twice_is_committed_once(story_store: ProjectStore) -> None:
    from storyboard_app.farm.plan import plan_project

    pytest.importorskip("ray")
    from storyboard_app.farm.driver import commit_panel

    plan = plan_project(story_store, None, OPTIONS)
    panel = plan.windows[0][0]
    rendered = PanelRendered(panel.scene_id, png_of_one_pixel(), TakeParams(width=1, height=1))
    rid = plan.request_ids[panel.scene_id]
    assert commit_panel(story_store, panel, rendered, rid) is not None
    assert commit_panel(story_store, panel, rendered, rid) is None
    assert len(story_store.takes.list(panel.scene_id)) == 1
    assert plan_project(story_store, None, OPTIONS).panel_count == plan.panel_count - 1


def png_of_one_pixel() -> bytes:
    from support import png_bytes

    return png_bytes(size=(1, 1))


def test_a_cluster_that_cannot_be_joined_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ray = pytest.importorskip("ray")

    def no_cluster(**_options: object) -> None:  # what ray.init raises with no cluster there
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", no_cluster)
    (project,) = make_projects(tmp_path, ["forest"])
    assert main(["farm", "render", str(project), *RENDER_ARGS, "--address", "auto"]) == 1
    err = capsys.readouterr().err
    assert "Cannot join the Ray cluster at auto" in err and "ray start --head" in err
    assert "Traceback" not in err


def test_missing_ray_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project,) = make_projects(tmp_path, ["forest"])
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["farm", "render", str(project), *RENDER_ARGS]) == 1
    err = capsys.readouterr().err
    assert "Farm rendering needs Ray: pip install 'storyboard_app[farm]'" in err
    assert "Traceback" not in err
    assert all(hashes == [] for hashes in take_hashes(project).values())
