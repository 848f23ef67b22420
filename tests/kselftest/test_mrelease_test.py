"""``mrelease_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test case as ported in
``linuxmm.kselftest.mrelease_test``."""

from ksft_pytest import collect

collect("mrelease_test", globals())
