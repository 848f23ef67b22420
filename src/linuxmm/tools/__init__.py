"""Tools around the simulator that are not a kernel subsystem: memory-access trace readers
(``trace``) and their command-line face (``trace_cli``)."""
