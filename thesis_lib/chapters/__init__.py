"""The chapters, each in one folder mirroring its notebook: :mod:`.ch3`, :mod:`.ch4`, :mod:`.ch5`; what they
share (:mod:`.common`), and every chapter's tables by number (:mod:`.grids`)."""
