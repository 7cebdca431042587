"""The zarr v3 store: layout (:mod:`.layout`), writer (:mod:`.writer`), thread-free
local reader (:mod:`.reader`), remote reader (:mod:`.remote`) and checksum
verification (:mod:`.verify`). Knows nothing of any dataset.
"""
