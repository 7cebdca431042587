"""Drop-in replacements for the lab's published data loaders.

:mod:`neural_datasets.compat.neural_harmonizer` serves neural_harmonizer's
``Neural_dataset``; :mod:`neural_datasets.compat.harmonization` serves
Harmonization's ``load_clickme``, ``load_clickme_train`` and
``load_clickme_val`` (and a PyTorch twin). Each keeps the upstream names and
behaviour so that switching is a one-line import change (``docs/migrating.md``).
"""
