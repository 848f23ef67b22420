"""Models of the kernel's core (``kernel/``): version, command line, log buffer."""
