"""`python -m bot` is the same as the `voronka` command."""

from bot.cli import main

raise SystemExit(main())
