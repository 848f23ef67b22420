"""``gup_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.gup_test``, one pytest test each."""

from ksft_pytest import collect

collect("gup_test", globals())
