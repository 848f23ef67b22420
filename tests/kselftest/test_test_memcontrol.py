"""``test_memcontrol.c`` of ``tools/testing/selftests/cgroup``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.test_memcontrol``, one pytest test each."""

from ksft_pytest import collect

collect("test_memcontrol", globals())
