"""``gup_longterm.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.gup_longterm``, one pytest test each."""

from ksft_pytest import collect

collect("gup_longterm", globals())
