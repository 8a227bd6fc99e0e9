"""``storyboard farm render``: many projects on the GPUs of a Ray cluster (or local CPUs).

Ray is an optional extra: without it the command says how to install it. Every
project is read (and its panel list checked) before any worker starts; the
driver is the only process that writes into the projects.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard_app.cli.common import EXIT_OK, Commands, add_command, add_json_flag, print_json
from storyboard_app.cli.progress import Progress, progress_for
from storyboard_app.cli.render import parse_panel_numbers, render_options, take_report
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.grammar import plural
from storyboard_app.project.store import ProjectStore

if TYPE_CHECKING:
    from storyboard_app.engine.project_render import RenderOptions
    from storyboard_app.farm.driver import FarmOptions, ProjectOutcome, ProjectProgress
    from storyboard_app.farm.plan import ProjectPlan


def register_farm(commands: Commands) -> None:
    parser = add_command(
        commands, "farm", lambda args: parser.error("choose a farm command"), FARM_HELP
    )
    actions = parser.add_subparsers(title="farm commands", metavar="ACTION", required=True)
    render = add_command(actions, "render", cmd_farm_render, RENDER_HELP)
    render.add_argument("projects", nargs="+", type=Path, metavar="PROJECT")
    render.add_argument(
        "--address",
        default="local",
        metavar="auto|HOST:PORT|local",
        help="Ray cluster to join: 'auto' (this machine's cluster), HOST:PORT or ray://HOST:PORT, "
        "or 'local' to start one here (default)",
    )
    render.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    render.add_argument(
        "--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs each worker holds"
    )
    render.add_argument(
        "--shared-dir",
        type=Path,
        metavar="FOLDER",
        help="pass identity caches through this folder, seen by every worker and this machine "
        "(default: through Ray's object store)",
    )
    render.add_argument("--scenes", metavar="LIST", help="panel numbers, e.g. 1,3-5 (default: all)")
    render.add_argument("--model", metavar="SOURCE", help="hub id, folder, .safetensors or 'tiny'")
    render.add_argument("--steps", type=int, help="denoising steps")
    render.add_argument("--size", metavar="WxH", help="image size, e.g. 1024x768")
    render.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    render.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    add_json_flag(render, "print the takes written per project as JSON")


FARM_HELP = "Render many projects on a Ray cluster (needs the 'farm' extra)."
RENDER_HELP = (
    "Render the panels of several projects on Ray workers that keep the model loaded; "
    "panels that already have a take from the same inputs are skipped."
)


def cmd_farm_render(args: argparse.Namespace) -> int:
    from storyboard_app.farm.ray_support import require_ray

    require_ray()
    check_workers(args.workers, args.gpus_per_worker)
    from storyboard_app.farm.driver import farm_render, joined_cluster

    options = farm_options_of(args)
    plans = [plan_of(folder, args.scenes, render_options(args)) for folder in args.projects]
    started = time.monotonic()
    worker_logs = bool(getattr(args, "verbose", False))
    with joined_cluster(args.address, worker_logs=worker_logs), progress_for(args) as progress:
        outcomes = farm_render(plans, options, lambda p: show_progress(progress, p))
    report(outcomes, args.json, time.monotonic() - started)
    return EXIT_OK


def farm_options_of(args: argparse.Namespace) -> FarmOptions:
    from storyboard_app.farm.driver import FarmOptions

    cpus = 1.0 if args.gpus_per_worker == 0 else 0.0
    return FarmOptions(
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        cpus_per_worker=cpus,
        shared_dir=shared_folder(args.shared_dir),
    )


def shared_folder(folder: Path | None) -> Path | None:
    """The ``--shared-dir`` folder, absolute (workers run elsewhere), made if missing."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"The shared folder {folder} cannot be made ({exc.strerror}).",
            "Give a folder every worker machine mounts, or leave --shared-dir out.",
        ) from exc
    return folder.resolve()


def check_workers(workers: int, gpus: float) -> None:
    if workers < 1:
        raise ValidationError(f"--workers {workers} is not a number of workers.", "Use 1 or more.")
    if gpus < 0:
        raise ValidationError(f"--gpus-per-worker {gpus} is negative.", "Use 0 (CPU) or more.")


def plan_of(folder: Path, panels: str | None, options: RenderOptions) -> ProjectPlan:
    """The project's missing panels, read (and checked) before any worker starts."""
    from storyboard_app.farm.plan import plan_project

    with ProjectStore.open(folder) as store:
        scene_ids = None
        if panels:
            scenes = store.scenes.list()
            scene_ids = [scenes[n - 1].id for n in parse_panel_numbers(panels, len(scenes))]
        return plan_project(store, scene_ids, options)


def show_progress(progress: Progress, update: ProjectProgress) -> None:
    eta = "" if update.eta_s is None else f"ETA {update.eta_s:.0f} s"
    progress.update(update.folder.name, update.done, update.total, "panels", eta)


def report(outcomes: list[ProjectOutcome], as_json: bool, seconds: float) -> None:
    if as_json:
        print_json({"projects": [outcome_json(o) for o in outcomes], "seconds": round(seconds, 3)})
        return
    for outcome in outcomes:
        skipped = f" ({outcome.already_done} already done)" if outcome.already_done else ""
        print(f"Rendered {plural(len(outcome.takes), 'panel')} into {outcome.folder}{skipped}.")


def outcome_json(outcome: ProjectOutcome) -> dict[str, Any]:
    with ProjectStore.open(outcome.folder) as store:
        numbers = {scene.id: scene.number for scene in store.scenes.list()}
        takes = [take_report(store, take, numbers) for take in outcome.takes]
    return {
        "project": str(outcome.folder),
        "takes": takes,
        "already_done": outcome.already_done,
        "caches_built": outcome.caches_built,
        "caches_written": outcome.caches_written,
    }
