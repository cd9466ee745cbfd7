"""The headless session core that every front end drives (anchors: alembic's ``command.py``,
harlequin's query core).

* :mod:`~migrator.engine.session.compose` builds what a run needs from a loaded plan (the
  executors, the redactor, the run mode) and checks the operator's flags against the inventory;
* :mod:`~migrator.engine.session.headless`: ``run``, ``resume``, ``rollback``, ``abort``,
  ``dry-run``, ``verify``, ``preflight`` as one call each (the CLI: parse, call, exit code);
* :mod:`~migrator.engine.session.interactive`: :class:`EngineSession`, a long-lived session
  holding the plan's lease that a front end drives one action at a time (the TUI);
* :mod:`~migrator.engine.session.view`: the records a front end is shown.

Nothing is imported here: ``migrator run`` imports ``compose`` before the engine proper, so
that the first SSH handshake overlaps loading the runner (``bench/cold_start.py``).
"""
