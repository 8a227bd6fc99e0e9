from storyboard_app.cli import main

raise SystemExit(main())
