"""The chapter notebooks' cells, one call each: :mod:`.base` (what every chapter notebook shares: parameters checked,
output folders, figures stamped, the grid run through the cache, tables beside the thesis) and one module per
notebook (:mod:`.chapter3`, :mod:`.chapter4`, :mod:`.chapter5`) whose methods are the cells. Above the reporting,
below the command lines; the analysis stays in :mod:`thesis_lib.chapters`."""
