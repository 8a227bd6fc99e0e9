"""A guard against a reference-counting bug in PySide6 6.12.0's signals.

In 6.12.0, ``SignalInstance.emit()`` and ``SignalInstance.disconnect()`` return
``True``/``False`` without taking a reference, so every call from Python drops
one reference to the bool. On Python 3.11, where bools are not immortal, a
session that emits a few thousand signals (a render reports every step) brings
the count to zero and the interpreter aborts with "bool_dealloc: deallocating
True or False". PySide6 6.11 is not affected.

:func:`install_signal_refcount_fix` measures whether the running PySide6 has
the bug and, only then, wraps both methods to take the missing reference. It
is a no-op on fixed versions and on Python 3.12+.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 8
_installed = False


class _Probe(QObject):
    ping = Signal()


def install_signal_refcount_fix() -> bool:
    """Fix the bool references if this PySide6 leaks them; True when the fix is active."""
    global _installed
    if _installed:
        return True
    emit_leaks = _leaked_references(lambda probe: probe.ping.emit())
    disconnect_leaks = _leaked_references(_connect_and_disconnect)
    if emit_leaks:
        SignalInstance.emit = _returning_owned_bool(SignalInstance.emit)
    if disconnect_leaks:
        SignalInstance.disconnect = _returning_owned_bool(SignalInstance.disconnect)
    _installed = emit_leaks or disconnect_leaks
    return _installed


def _leaked_references(call: Callable[[_Probe], object]) -> bool:
    """Run ``call`` a few times and put back any reference to True it dropped."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        call(probe)
    lost = before - sys.getrefcount(True)
    for _ in range(max(0, lost)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost >= _PROBES


def _connect_and_disconnect(probe: _Probe) -> None:
    probe.ping.connect(_noop)
    probe.ping.disconnect(_noop)


def _noop() -> None:
    """A slot for the probe."""


def _returning_owned_bool(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: SignalInstance, *args: Any, **kwargs: Any) -> Any:
        result = method(self, *args, **kwargs)
        if result is True or result is False:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
        return result

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call
