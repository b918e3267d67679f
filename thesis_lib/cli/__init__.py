"""Every command-line entry point, above everything else: ``python -m thesis_lib.run`` (:mod:`.run`), ``.grid``
(:mod:`.grid`), ``.allocate`` (:mod:`.allocate`), ``.preflight`` (:mod:`.preflight`) and ``.report``
(:mod:`.report`). The names users type are the thin modules ``thesis_lib/{run,grid,allocate,preflight,report}.py``."""
