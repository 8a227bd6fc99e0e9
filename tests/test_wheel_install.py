"""The built wheel works installed non-editable, away from the checkout (issue #9).

Builds ``pip wheel --no-deps .``, installs it with ``--no-deps`` into a fresh
virtual environment that borrows the dev environment's site-packages through a
``.pth`` file (so torch is not installed twice), then, from a temp folder, runs
``storyboard self-test``, a captioned PDF export of a project made from an
installed example, and a single-file checkpoint load. Each of these failed when
the fonts, pipeline configs and examples were left out of the wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.wheel


def _run(command: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 240) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"`{' '.join(str(p) for p in command)}` failed ({result.returncode}) in the "
        f"installed wheel:\n{output}"
    )
    return output


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv holding the wheel, and an environment that hides the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    wheels, env_dir = root / "dist", root / "venv"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    } | {
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "STORYBOARD_CACHE_DIR": str(root / "cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    # Build from a clean copy: a build/ folder left in the checkout would be reused.
    source = root / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            "out",
            "*.storyboard",
            ".*_cache",
        ),
    )
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            wheels,
            source,
        ],
        cwd=root,
        env=env,
    )
    (wheel,) = wheels.glob("storyboard_app-*.whl")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The dev environment's packages (torch, diffusers, ...) without its editable install:
    # a path line in a .pth is appended after the venv's own site-packages, and the .pth
    # files inside that folder (the editable finder) are not processed.
    borrowed = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    (target / "borrowed-dev-env.pth").write_text("\n".join(dict.fromkeys(borrowed)) + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            wheel,
        ],
        cwd=root,
        env=env,
    )
    return python, env


def test_the_wheel_ships_fonts_configs_and_examples(installed, tmp_path) -> None:
    python, env = installed
    out = _run(
        [
            python,
            "-c",
            textwrap.dedent("""
            import storyboard_app
            from storyboard_app.project.bundled import examples_dir, resources_dir
            print(storyboard_app.__file__)
            print(resources_dir())
            print(examples_dir())
        """),
        ],
        cwd=tmp_path,
        env=env,
    )
    package, resources, examples = out.split()[:3]
    assert str(ROOT) not in package, f"the checkout was imported, not the wheel: {package}"
    assert resources.startswith(str(Path(package).parent)), resources
    assert examples.startswith(str(Path(package).parent)), examples


def test_self_test_passes_installed(installed, tmp_path) -> None:
    python, env = installed
    storyboard = python.parent / "storyboard"
    _run([storyboard, "self-test"], cwd=tmp_path, env=env)


def test_captioned_pdf_of_an_installed_example(installed, tmp_path) -> None:
    python, env = installed
    storyboard = python.parent / "storyboard"
    script = _run(
        [
            python,
            "-c",
            "from storyboard_app.project.bundled import examples_dir; "
            "print(examples_dir() / 'lighthouse_keeper.toml')",
        ],
        cwd=tmp_path,
        env=env,
    ).strip()
    _run([storyboard, "new", "story.storyboard", "--from", script], cwd=tmp_path, env=env)
    _run(
        [storyboard, "export", "story.storyboard", "--pdf", "story.pdf", "--captions"],
        cwd=tmp_path,
        env=env,
    )
    assert (tmp_path / "story.pdf").stat().st_size > 1000


def test_single_file_checkpoint_loads_installed(installed, tmp_path) -> None:
    python, env = installed
    out = _run(
        [
            python,
            "-c",
            textwrap.dedent("""
            import json
            from storyboard_app.engine.loading import (
                architecture_from_checkpoint, load_text_to_image_pipeline, pipeline_config_dir,
            )
            from storyboard_app.engine.tiny_models import (
                build_tiny_pipeline, save_tiny_pipeline, write_single_file_checkpoint,
            )
            for arch in ("sdxl", "sd15"):
                shipped = pipeline_config_dir(arch)
                print(shipped)
                parsed = [json.loads(p.read_text()) for p in sorted(shipped.rglob("*.json"))]
                index = json.loads((shipped / "model_index.json").read_text())
                parts = [name for name, entry in index.items() if isinstance(entry, list)
                         and entry[0] is not None]
                missing = [name for name in parts if not (shipped / name).is_dir()]
                assert not missing and len(parsed) > len(parts), (arch, missing, len(parsed))
            folder = save_tiny_pipeline("tiny", "sdxl")
            pipe = build_tiny_pipeline("sdxl")
            checkpoint = write_single_file_checkpoint(pipe, "tiny.safetensors")
            # Without config_dir the loader would build the pipeline from this shipped
            # folder; the tiny weights do not fit full-size configs, so only the lookup runs.
            print("detected", pipeline_config_dir(architecture_from_checkpoint(checkpoint)))
            loaded = load_text_to_image_pipeline(str(checkpoint), device="cpu", config_dir=folder)
            assert loaded.source.kind == "single_file", loaded.source
            print("loaded", loaded.architecture)
        """),
        ],
        cwd=tmp_path,
        env=env,
    )
    assert "loaded sdxl" in out
    sdxl, sd15, detected = (Path(line.split()[-1]) for line in out.splitlines()[:3])
    for shipped, arch in ((sdxl, "sdxl"), (sd15, "sd15")):
        assert "site-packages" in str(shipped) and str(ROOT) not in str(shipped), out
        assert shipped.parts[-5:] == ("storyboard_app", "_data", "resources",
                                      "pipeline_configs", arch), out  # fmt: skip
    assert detected == sdxl, out
