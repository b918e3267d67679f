"""Chapter 5 and appendix C (notebook 05): what a run trains on, the grid of its tables and its validation
choices (:mod:`.runs`), and section 5.1's analysis and figures (:mod:`.analysis`)."""
