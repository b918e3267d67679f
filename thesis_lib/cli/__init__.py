"""Command-line entry points above everything else: ``python -m thesis_lib.grid`` (:mod:`.grid`),
``python -m thesis_lib.allocate`` (:mod:`.allocate`) and ``python -m thesis_lib.preflight`` (:mod:`.preflight`);
``python -m thesis_lib.run`` and ``python -m thesis_lib.report`` live with their layers."""
