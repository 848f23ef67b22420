"""``map_populate.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test case as ported in
``linuxmm.kselftest.map_populate``."""

from ksft_pytest import collect

collect("map_populate", globals())
