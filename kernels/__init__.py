"""Scan kernels."""
