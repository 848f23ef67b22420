"""``mlock-random-test.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.mlock_random_test``, one pytest test each."""

from ksft_pytest import collect

collect("mlock-random-test", globals())
