"""Scores a model earns against the data: ClickMe alignment with humans and IT predictivity.

Framework-free: the scores take NumPy arrays, torch tensors and TensorFlow tensors; the model
evaluations import the model's framework only when they are given one.
"""
