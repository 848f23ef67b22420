"""``virtual_address_range.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.virtual_address_range``, one pytest test each."""

from ksft_pytest import collect

collect("virtual_address_range", globals())
