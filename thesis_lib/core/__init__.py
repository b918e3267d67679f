"""The bottom layer, used by every other: profiles (the protocols and where outputs go), atomic writes, and the
mean +/- 95 % t-interval (:mod:`.profiles`, :mod:`.atomic`, :mod:`.summary`)."""
