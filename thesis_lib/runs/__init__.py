"""Runs: a run spec and its key (:mod:`.spec`), the run cache (:mod:`.cache`), the chapter registry
(:mod:`.chapters`: chapter number -> module, imported at run time), and the executors: one run here
(:mod:`.execute`), a grid of them locally, one at a time, in processes or stacked (:mod:`.run`), or on Ray
(:mod:`.ray_backend`). Knows no chapter statically."""
