"""``mdwe_test.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.mdwe_test``, one pytest test each."""

from ksft_pytest import collect

collect("mdwe_test", globals())
