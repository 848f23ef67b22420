"""Task states (``include/linux/sched.h``), Linux 6.18: the values of ``task->__state``
and ``task->exit_state``, which ``task_struct.state`` holds here in one field."""

TASK_RUNNING = 0x00000000
EXIT_DEAD = 0x00000010  # exited and reaped: its mm is gone
