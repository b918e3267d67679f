"""Chapter 4 (notebook 04): what a run trains on and the grid of its tables (:mod:`.runs`), the H-Mix analysis
of section 4.2.2 (:mod:`.analysis`) and its figures (:mod:`.plots`)."""
