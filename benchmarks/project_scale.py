"""Import speed: ``storyboard new --from`` a TOML script of 100 and 1,000 panels.

Writes a script of N panels (one character, a crossfade after every third
panel), then runs the real command line in this process (imports already
warm, so start-up time is not counted), best of ``--repeat`` runs. An import
that is linear takes about ten times as long for ten times the panels.

Usage: ``python benchmarks/project_scale.py [--panels 100 1000] [--repeat 3]``.
The last line is ``new --from 1000 panels: X s (100 panels: Y s, ratio Z)``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from storyboard_app.cli import main as storyboard


def write_script(path: Path, panels: int) -> Path:
    """A TOML story of ``panels`` panels of one character."""
    lines = [
        'title = "A long walk"',
        "",
        "[[characters]]",
        'name = "Mara"',
        'description = "a young woman with short red hair, green raincoat"',
        "seed = 42",
        "",
    ]
    for number in range(panels):
        lines += [
            "[[scenes]]",
            f'prompt = "[Mara] walks along the cliff, stretch {number + 1}, wind in her hair"',
            f'caption = "Step {number + 1}."',
            "duration = 2.0",
        ]
        if number % 3 == 0:
            lines.append('transition = { kind = "crossfade", duration = 0.5 }')
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def import_seconds(folder: Path, panels: int, repeat: int) -> float:
    """The best wall time of ``storyboard new PROJECT --from SCRIPT`` over ``repeat`` runs."""
    script = write_script(folder / f"story_{panels}.toml", panels)
    best = float("inf")
    for attempt in range(repeat):
        target = folder / f"project_{panels}_{attempt}"
        with contextlib.redirect_stdout(io.StringIO()):
            start = time.perf_counter()
            status = storyboard(["new", str(target), "--from", str(script)])
            elapsed = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f"storyboard new failed with status {status}")
        best = min(best, elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--panels", type=int, nargs=2, default=[100, 1000], metavar=("SMALL", "LARGE")
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    small, large = args.panels
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        import_seconds(folder, 5, 1)  # warm the imports and caches
        times = {panels: import_seconds(folder, panels, args.repeat) for panels in (small, large)}
    for panels, seconds in times.items():
        print(f"{panels:>6} panels  {seconds:8.3f} s  {seconds / panels * 1000:6.2f} ms/panel")
    ratio = times[large] / times[small]
    print(
        f"new --from {large} panels: {times[large]:.2f} s "
        f"({small} panels: {times[small]:.2f} s, ratio {ratio:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
