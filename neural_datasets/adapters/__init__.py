"""Framework adapters: PyTorch (:mod:`.torch`) and tf.data (:mod:`.tf`) over batch sources.

:mod:`.batches` defines what a batch source is and :mod:`.sampling` the
framework-free epoch plan both adapters shard and shuffle with. Users import
the adapters as :mod:`neural_datasets.torch` and :mod:`neural_datasets.tf`.
"""
