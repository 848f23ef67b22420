"""``khugepaged.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.khugepaged``, one pytest test each (the module is named apart from
tests/test_khugepaged.py, the tests of mm/khugepaged.py)."""

from ksft_pytest import collect

collect("khugepaged", globals())
