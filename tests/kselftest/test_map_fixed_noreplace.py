"""``map_fixed_noreplace.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.map_fixed_noreplace``, one pytest test each."""

from ksft_pytest import collect

collect("map_fixed_noreplace", globals())
