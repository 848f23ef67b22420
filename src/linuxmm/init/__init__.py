"""Boot (``init/main.c``)."""
