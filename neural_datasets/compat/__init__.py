"""Drop-in replacements for the lab's published data loaders.

:mod:`neural_datasets.compat.neural_harmonizer` serves neural_harmonizer's
``Neural_dataset``; each module keeps the upstream names and behaviour so that
switching is a one-line import change (``docs/migrating.md``).
"""
