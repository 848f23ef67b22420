"""``mkdirty.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.mkdirty``, one pytest test each."""

from ksft_pytest import collect

collect("mkdirty", globals())
