"""Reporting: tables beside the thesis (:mod:`.tables`), the thesis's published values (:mod:`.reference`), its
claims checked (:mod:`.claims`) and drawn at a glance (:mod:`.forest`), metrics recomputed from the runs' kept
outputs (:mod:`.recompute`: both calibration errors), the provenance sensitivity (:mod:`.provenance_sensitivity`),
and the report (:mod:`.report`; its command line is :mod:`thesis_lib.cli.report`)."""
