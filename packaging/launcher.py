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
    if args[:1] in (["--self-test"], ["--cli"]):
        from storyboard_app.cli import main as cli_main

        # through the command line, so that logging is set up as for 'storyboard self-test'
        return cli_main(["self-test"] if args[0] == "--self-test" else args[1:])
    from storyboard_app.ui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    # A frozen app that starts worker processes must let them through first (Windows, macOS).
    multiprocessing.freeze_support()
    sys.exit(main())
