"""``mlock2-tests.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.mlock2_tests``, one pytest test each."""

from ksft_pytest import collect

collect("mlock2-tests", globals())
