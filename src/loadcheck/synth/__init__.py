"""Synthetic truck-loading scenes with exact ground truth."""
