"""io_uring (``io_uring/``, Linux 6.18): rings with registered buffers, the long-term pins they
hold, and the fixed writes that read them (``io_uring.py``, ``rsrc.py``)."""
