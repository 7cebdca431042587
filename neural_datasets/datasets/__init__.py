"""One folder per dataset: spec and pinned checksums, converter, dataset class, preview, sample.

A dataset folder imports the layers below it (:mod:`neural_datasets.fetching`,
:mod:`neural_datasets.storage`, :mod:`neural_datasets.formats`) and
:mod:`neural_datasets.datasets.spec`, never another dataset folder.
See ``docs/architecture.md``.
"""
