"""Reporting: tables beside the thesis (:mod:`.tables`), how a table and a number are written (:mod:`.render`), the
thesis's claims checked (:mod:`.claims`) and drawn at a glance (:mod:`.forest`), metrics recomputed from the runs'
kept outputs (:mod:`.recompute`: both calibration errors), the provenance sensitivity (:mod:`.provenance_sensitivity`),
and the report (:mod:`.report`; its command line is :mod:`thesis_lib.cli.report`). The thesis's tables, figures and
printed values are the catalogue's (:mod:`thesis_lib.core.catalogue`)."""
