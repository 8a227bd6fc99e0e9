"""Random and mutated story scripts through ``storyboard new --from``: exit 0 or 1, never a crash.

A script that is refused must leave no project behind; one that is accepted
must make a project that opens.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import pytest
from support import EXAMPLES

pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra; run dev.py to install")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard_app.cli import main
from storyboard_app.project.store import ProjectStore

SOURCES = {
    ".toml": (EXAMPLES / "lighthouse_keeper.toml").read_text(encoding="utf-8"),
    ".txt": (EXAMPLES / "forest_treasure.txt").read_text(encoding="utf-8"),
}
PIECES = st.sampled_from(
    ["[", "]", "{", "}", "[[scenes]]", "[[characters]]", '"', "=", "\n", "#", "[NC]", "[Mia]",
     "duration = 1e999", "seed = -1", "prompt = ''", "\x00", "é", "\ufeff", "[" * 200]
)  # fmt: skip


@st.composite
def mutated_script(draw: st.DrawFn) -> tuple[str, str]:
    suffix = draw(st.sampled_from(sorted(SOURCES)))
    text = SOURCES[suffix]
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 80)))
        insert = draw(st.one_of(PIECES, st.text(max_size=20)))
        text = text[:start] + insert + text[end:]
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        text = draw(st.text(max_size=200))
    return suffix, text


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@given(mutated_script())
def test_new_from_any_script_exits_cleanly(case: tuple[str, str]) -> None:
    suffix, text = case
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / f"story{suffix}"
        script.write_text(text, encoding="utf-8", errors="surrogatepass")
        target = Path(folder) / "out"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["new", str(target), "--from", str(script)])
        assert code in (0, 1), err.getvalue()
        assert "Traceback" not in err.getvalue()
        project = Path(folder) / "out.storyboard"
        if code == 1:
            assert err.getvalue().startswith("error: ")
            assert not project.exists()
        else:
            with ProjectStore.open(project) as store:
                store.info()
