"""The operations people and lines perform, each one function in one place.

The use-case layer between the edges (the CLI today, the HTTP API next) and the
libraries that do the work (``store`` for the database, ``backup``, ``drill``, the pure
``domain``, ``epcis`` and ``gs1``). Conventions, so that an edge never holds logic:

* one module per area — ``repository`` (init, capture, status, rebuild, audit),
  ``products``, ``query``, ``reconcile``, ``backup`` (keys, full, incremental, follow,
  inventory, plan, catalog, verify, prune), ``restore``, ``drill`` (plans, runs, the
  register, evidence and sign-off), ``epcis`` (validate, hash, convert), ``demo``; what
  several share is in ``context`` (the repository, the backup context) and ``files``;
* one function per operation a person or a line performs, taking plain arguments
  (strings, paths, numbers, flags, a :class:`~serialvault.settings.Settings`) and
  returning a result object with ``to_dict()`` — the JSON an edge prints or serves;
* no printing, no prompts, no environment: the edge reads the settings once and passes
  them in; progress goes to an optional callback;
* every failure is a :class:`~serialvault.errors.SerialvaultError` whose class carries
  the exit code (and, for the API, the status);
* the regulated records an operation writes (exceptions, drill runs, sign-offs) are
  appended here or below, through the one append helper and the catalogue of record
  kinds (``domain.records``), never by an edge.
"""
