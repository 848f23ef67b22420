"""``prctl_thp_disable.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as
ported in ``linuxmm.kselftest.prctl_thp_disable``, one pytest test each."""

from ksft_pytest import collect

collect("prctl_thp_disable", globals())
