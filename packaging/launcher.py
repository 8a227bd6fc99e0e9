"""Entry point of the frozen (PyInstaller) app.

    storyboard --version        print the version
    storyboard --self-test      headless check: render the example with a tiny model,
                                export PDF and MP4, print OK (exit 0) or what failed
    storyboard --cli ARGS...    the ``storyboard`` command line (export, render, ...)
    storyboard [PROJECT]        the desktop app

The heavy parts (Qt, torch) are imported only by the mode that needs them, so
``--version`` answers at once.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--version"]:
        from storyboard_app import __version__

        print(f"Storyboard {__version__}")
        return 0
    if args[:1] == ["--self-test"]:
        from storyboard_app.cli.selftest import run_self_test

        return run_self_test()
    if args[:1] == ["--cli"]:
        from storyboard_app.cli import main as cli_main

        return cli_main(args[1:])
    from storyboard_app.ui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    # A frozen app that starts worker processes must let them through first (Windows, macOS).
    multiprocessing.freeze_support()
    sys.exit(main())
