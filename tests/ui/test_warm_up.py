"""The engine thread's warm-up waits while the window holds the foreground, and never for long."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QTimer

from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.warm_up import ForegroundGate, import_in_turn


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Callable[..., list[str]]]:
    """Write throwaway modules onto the path; they are forgotten again afterwards."""
    names: list[str] = []
    sys.path.insert(0, str(tmp_path))

    def write(*bodies: str) -> list[str]:
        made = []
        for body in bodies:
            name = f"warm_up_probe_{len(names)}"
            (tmp_path / f"{name}.py").write_text(body, encoding="utf-8")
            names.append(name)
            made.append(name)
        return made

    yield write
    sys.path.remove(str(tmp_path))
    for name in names:
        sys.modules.pop(name, None)


def in_thread(function: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=function, daemon=True)
    thread.start()
    return thread


def test_a_held_gate_keeps_the_imports_back_until_it_is_released(
    modules: Callable[..., list[str]],
) -> None:
    names = modules("VALUE = 1\n", "VALUE = 2\n")
    gate = ForegroundGate()
    release = gate.hold()

    thread = in_thread(lambda: import_in_turn(names, gate))
    thread.join(0.3)
    assert thread.is_alive() and not any(name in sys.modules for name in names)

    release()
    thread.join(5)
    assert not thread.is_alive() and all(name in sys.modules for name in names)


def test_the_imports_wait_between_modules_not_inside_one(
    modules: Callable[..., list[str]],
) -> None:
    """The window takes the gate while the first module is importing: the second waits."""
    gate = ForegroundGate()
    holder: dict[str, Callable[[], None]] = {}
    sys.modules["warm_up_probe_gate"] = type(sys)("warm_up_probe_gate")
    sys.modules["warm_up_probe_gate"].take = lambda: holder.setdefault("release", gate.hold())  # type: ignore[attr-defined]
    try:
        first, second = modules("import warm_up_probe_gate\nwarm_up_probe_gate.take()\n", "X = 1\n")
        thread = in_thread(lambda: import_in_turn([first, second], gate))
        thread.join(0.3)
        assert first in sys.modules and second not in sys.modules

        holder["release"]()
        thread.join(5)
        assert second in sys.modules
    finally:
        sys.modules.pop("warm_up_probe_gate", None)


def test_holds_nest_and_a_second_release_does_nothing() -> None:
    gate = ForegroundGate()
    outer = gate.hold()
    inner = gate.hold()
    inner()
    inner()
    waited = in_thread(gate.wait)
    waited.join(0.2)
    assert waited.is_alive(), "one hold is still on"

    outer()
    waited.join(5)
    assert not waited.is_alive()


def test_a_hold_never_let_go_runs_out() -> None:
    gate = ForegroundGate(max_hold_s=0.2)
    gate.hold()
    started = time.monotonic()
    gate.wait()
    assert 0.15 <= time.monotonic() - started < 3.0


def test_a_module_that_fails_to_import_ends_the_warm_up_quietly(
    modules: Callable[..., list[str]],
) -> None:
    broken, after = modules("raise ImportError('no such library')\n", "X = 1\n")
    import_in_turn([broken, after], ForegroundGate())
    assert broken not in sys.modules and after not in sys.modules


def test_the_host_imports_its_warm_up_before_it_makes_the_engine(
    modules: Callable[..., list[str]], make_host: Callable[..., EngineHost], qtbot: Any
) -> None:
    (name,) = modules("X = 1\n")
    seen: list[bool] = []

    def factory() -> FakeEngine:
        seen.append(name in sys.modules)
        return FakeEngine()

    make_host(factory, warm_up=(name,))
    qtbot.waitUntil(lambda: seen != [], timeout=10_000)
    assert seen == [True]


def test_the_host_holds_its_warm_up_until_the_event_loop_waits_for_events(
    modules: Callable[..., list[str]], make_host: Callable[..., EngineHost], qtbot: Any
) -> None:
    """Zero-interval timers queued by the views (first reads, first paints) run before
    the imports start: a busy loop keeps them back, the first wait lets them go."""
    (name,) = modules("X = 1\n")
    make_host(FakeEngine, warm_up=(name,))
    busy_until = time.monotonic() + 0.5
    while time.monotonic() < busy_until:
        QTimer.singleShot(0, lambda: None)
        QCoreApplication.processEvents()
    assert name not in sys.modules
    qtbot.waitUntil(lambda: name in sys.modules, timeout=2_000)


def test_holding_until_idle_nests_with_other_holds(
    modules: Callable[..., list[str]], make_host: Callable[..., EngineHost], qtbot: Any
) -> None:
    (name,) = modules("X = 1\n")
    host = make_host(FakeEngine, warm_up=(name,))
    release = host.hold_foreground()
    qtbot.wait(300)
    assert name not in sys.modules
    release()
    qtbot.waitUntil(lambda: name in sys.modules, timeout=2_000)
