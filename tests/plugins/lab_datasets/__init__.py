"""An example plug-in package: a lab's own ClickMe-format dataset, registered by entry point.

Its ``pyproject.toml`` would say::

    [project.entry-points."neural_datasets.datasets"]
    lab = "lab_datasets.spec"

The tests install it into a temporary folder with that entry point
(``tests/support/plugins.py``); docs/adding-a-dataset.md walks through it.
"""
