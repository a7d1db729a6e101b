"""Kernels for Jamba's Mamba layers, each with a pure-PyTorch ``*_ref`` twin of the same signature."""
