"""``python -m alloc_bench``: the ``alloc-bench`` command line."""

from alloc_bench.cli import main

raise SystemExit(main())
