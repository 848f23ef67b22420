"""Generic memory management (``mm/``)."""
