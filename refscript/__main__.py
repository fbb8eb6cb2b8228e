"""`python -m refscript`: see `refscript.cli`."""

from refscript.cli import main

raise SystemExit(main())
