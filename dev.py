#!/usr/bin/env python3
"""Set up a virtual environment and run the example or the tests: the README's two commands.

    python3 dev.py example   # build the bundled example project and show it
    python3 dev.py test      # lint, layer contracts and the whole test suite

Needs only Python >= 3.11. The first run creates ``.venv`` and installs the
project; PyTorch is installed as the CPU build ``torch==2.13.0`` when the
environment has no torch yet, so no multi-GB CUDA build is pulled on machines
without a GPU (workstations install a CUDA build first; see the README).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("STORYBOARD_VENV", ROOT / ".venv"))
CPU_TORCH = "torch==2.13.0"
STAMP = VENV / ".storyboard-installed"
EXAMPLE_SCRIPT = ROOT / "projects_example" / "lighthouse_keeper.toml"
EXAMPLE_OUTPUT = ROOT / "out" / "lighthouse_keeper.storyboard"


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    name = "python.exe" if os.name == "nt" else "python"
    return VENV / scripts / name


def venv_tool(name: str) -> str:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return str(VENV / scripts / (name + (".exe" if os.name == "nt" else "")))


def run(*command: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)


def install_fingerprint() -> str:
    """Reinstall when the dependencies or this script change."""
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", Path(__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def has_torch() -> bool:
    probe = subprocess.run(
        [str(venv_python()), "-c", "import torch"], capture_output=True, check=False
    )
    return probe.returncode == 0


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("Storyboard needs Python 3.11 or newer; run this script with python3.11+.")
    if not venv_python().exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == install_fingerprint():
        return
    pip = [venv_python(), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if not has_torch():
        run(*pip, CPU_TORCH)
    run(*pip, "-e", f"{ROOT}[dev,farm]")  # farm: Ray, so the farm tests run
    STAMP.write_text(install_fingerprint())


def command_example(args: list[str]) -> int:
    """Create the example project from its story script, render every panel, export it.

    Without arguments it renders with the tiny random test model (noise-like
    pictures, but the whole path: identity caches, consistent attention, takes);
    extra arguments go to ``storyboard render``, e.g. ``--model <hub id> --size
    1024x1024 --steps 30`` on a workstation with real weights.
    """
    storyboard = venv_tool("storyboard")
    if EXAMPLE_OUTPUT.exists():
        shutil.rmtree(EXAMPLE_OUTPUT)
    EXAMPLE_OUTPUT.parent.mkdir(exist_ok=True)
    run(storyboard, "new", EXAMPLE_OUTPUT, "--from", EXAMPLE_SCRIPT)
    render_args = args or ["--model", "tiny", "--size", "128x128", "--steps", "8"]
    run(storyboard, "render", EXAMPLE_OUTPUT, *render_args)
    run(storyboard, "info", EXAMPLE_OUTPUT)
    run(storyboard, "scenes", EXAMPLE_OUTPUT)
    comic, animatic = EXAMPLE_OUTPUT.with_suffix(".pdf"), EXAMPLE_OUTPUT.with_suffix(".mp4")
    for previous in (comic, animatic):
        previous.unlink(missing_ok=True)
    run(storyboard, "export", EXAMPLE_OUTPUT, "--pdf", comic, "--mp4", animatic, "--captions")
    return 0


def command_test(args: list[str]) -> int:
    """Everything CI checks: lint, format, layer contracts, then the tests."""
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
    run(venv_tool("ruff"), "check", ROOT, cwd=ROOT)
    run(venv_tool("ruff"), "format", "--check", ROOT, cwd=ROOT)
    run(venv_tool("lint-imports"), cwd=ROOT, env=env)
    run(venv_python(), "-m", "pytest", *parallel_options(args), *args, cwd=ROOT, env=env)
    return 0


def parallel_options(args: list[str]) -> list[str]:
    """One worker a core, up to four, each taking whole test files (a file's fixtures and
    its processes stay together): the suite in half the time on CI's two cores. Arguments
    that choose workers themselves (``-n 0`` for one process, to debug) win."""
    if any(arg.startswith(("-n", "--numprocesses")) for arg in args):
        return []
    return ["--numprocesses=auto", "--maxprocesses=4", "--dist=loadfile"]


COMMANDS = {"example": command_example, "test": command_test}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    ensure_environment()
    try:
        return COMMANDS[argv[0]](argv[1:])
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
