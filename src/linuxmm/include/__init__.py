"""Kernel data structures (``include/linux``)."""
