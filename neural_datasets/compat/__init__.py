"""Drop-in replacements for the lab's published data loaders and their modules' names.

:mod:`neural_datasets.compat.neural_harmonizer` serves neural_harmonizer's
``neural_harmonizer.data.dataset`` (``Neural_dataset``, ``BUCKET_URL``);
:mod:`neural_datasets.compat.harmonization` serves Harmonization's
``harmonization.common.clickme_dataset`` and ``blur`` (``load_clickme``,
``load_clickme_train``, ``load_clickme_val``, the kernel, blur and constants;
and a PyTorch twin). Each keeps the upstream names, signatures, results and
edges so that switching is a one-line import change (``docs/migrating.md``);
:mod:`.samples` holds the ``NEURAL_DATASETS_SAMPLES`` switch for offline runs.
"""
