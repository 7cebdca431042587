"""Converters: raw downloaded files -> one zarr v3 store per dataset.

Each module exposes ``convert(spec, sources, building, *, progress) -> dict``:
it writes the dataset's arrays into the zarr group at ``building`` and returns
dataset-specific root attributes. :func:`neural_datasets.fetch` then records
provenance and publishes the store atomically.
"""
