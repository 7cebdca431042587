"""Getting raw files into the cache, safely: download, resume, retry, checksums, locks, archives.

:mod:`.fetch` is the entry point (``fetch``, ``remove``); :mod:`.download` the
resumable HTTP/file downloader; :mod:`.hashes` pins and trust-on-first-use;
:mod:`.cache` where things live; :mod:`.archives` safe zip reading;
:mod:`.verify` the end-to-end check of a cached dataset.
"""
