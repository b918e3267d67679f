"""Reporting: tables beside the thesis (:mod:`.tables`), the thesis's published values (:mod:`.reference`), its
claims checked (:mod:`.claims`), and the report (:mod:`.report`, ``python -m thesis_lib.report``)."""
