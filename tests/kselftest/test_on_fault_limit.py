"""``on-fault-limit.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.on_fault_limit``, one pytest test each."""

from ksft_pytest import collect

collect("on-fault-limit", globals())
