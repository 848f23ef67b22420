"""``merge.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.merge``, one pytest test each."""

from ksft_pytest import collect

collect("merge", globals())
