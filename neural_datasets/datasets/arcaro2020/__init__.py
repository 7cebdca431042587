"""Arcaro, Ponce & Livingstone (2020): macaque IT responses to natural images."""
