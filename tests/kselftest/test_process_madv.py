"""``process_madv.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.process_madv``, one pytest test each."""

from ksft_pytest import collect

collect("process_madv", globals())
