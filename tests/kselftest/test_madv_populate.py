"""``madv_populate.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.madv_populate``, one pytest test each."""

from ksft_pytest import collect

collect("madv_populate", globals())
