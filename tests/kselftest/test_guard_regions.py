"""``guard-regions.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.guard_regions``, one pytest test each."""

from ksft_pytest import collect

collect("guard-regions", globals())
