"""``soft-dirty.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.soft_dirty``, one pytest test each."""

from ksft_pytest import collect

collect("soft-dirty", globals())
