#!/usr/bin/env python3
"""Build the one-folder app with PyInstaller, then check the result.

    .venv/bin/pip install -e ".[packaging]"     # PyInstaller, once
    .venv/bin/python packaging/build.py         # -> dist/storyboard/

Runs PyInstaller on ``packaging/storyboard.spec`` (build files in
``build/pyinstaller``), then the frozen ``storyboard --version`` and
``storyboard --self-test`` (render with the tiny model, export PDF and MP4),
and prints the build time, the folder's size and the self-test's result.
Use the Python of the environment the app should bundle: whatever is
installed there (CPU or CUDA torch) is what the folder contains.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "storyboard.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP = DIST / "storyboard"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-self-test", action="store_true", help="only build")
    parser.add_argument("--clean", action="store_true", help="discard PyInstaller's cache first")
    args = parser.parse_args(argv)
    seconds = build(args.clean)
    size = folder_size(APP)
    print(
        f"built {APP} in {seconds / 60:.1f} min; {size / 2**20:,.0f} MiB, {file_count(APP)} files"
    )
    if args.skip_self_test:
        return 0
    run_frozen("--version")
    started = time.perf_counter()
    run_frozen("--self-test")
    print(f"frozen self-test passed in {time.perf_counter() - started:.1f} s")
    return 0


def build(clean: bool) -> float:
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", str(SPEC)]
    command += ["--distpath", str(DIST), "--workpath", str(WORK)]
    if clean:
        command.append("--clean")
    started = time.perf_counter()
    run(command)
    return time.perf_counter() - started


def run_frozen(option: str) -> None:
    executable = APP / ("storyboard.exe" if os.name == "nt" else "storyboard")
    # Headless and offline, as on a build server; the self-test needs no display.
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
    run([str(executable), option], env=env, cwd=Path.home())


def run(command: list[str], **kwargs: object) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def file_count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        print(f"failed: {' '.join(exc.cmd)} exited with {exc.returncode}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
