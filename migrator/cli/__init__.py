"""The ``migrator`` command line (a front end: it parses, composes and calls the engine).

One module per concern: :mod:`~migrator.cli.entry` (the group, the lazy command table, exit
codes), :mod:`~migrator.cli.options` (every option shared by several commands), one module
per command family, and the terminal views (:mod:`~migrator.cli.printer`,
:mod:`~migrator.cli.sheet`, :mod:`~migrator.cli.prompter`). Only ``entry`` is imported by
``migrator --help``: a command's module is imported when that command runs.
"""

from migrator.cli.entry import (
    _other_threads_working,
    cli,
    exit_status,
    loading_without_gc,
    main,
    run_and_exit,
)

__all__ = ["_other_threads_working", "cli", "exit_status", "loading_without_gc", "main", "run_and_exit"]
