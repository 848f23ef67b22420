"""``va_high_addr_switch.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as
ported in ``linuxmm.kselftest.va_high_addr_switch``, one pytest test each."""

from ksft_pytest import collect

collect("va_high_addr_switch", globals())
