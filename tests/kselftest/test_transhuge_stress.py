"""``transhuge-stress.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test case as
ported (bounded) in ``linuxmm.kselftest.transhuge_stress``, one pytest test."""

from ksft_pytest import collect

collect("transhuge-stress", globals())
