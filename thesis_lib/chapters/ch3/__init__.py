"""Chapter 3 and appendix B (notebook 03): what a run trains on (:mod:`.runs`), the grid of its tables and
figures and its validation choices (:mod:`.grid`), its dataset statistics (:mod:`.stats`) and figures
(:mod:`.plots`)."""
