"""docs/kselftests.md and the README's totals line are what ``docs/make_kselftests.py``
makes of this run's results: a count that moves needs the page remade."""

import sys
from pathlib import Path

from ksft_pytest import program_results

from linuxmm.kselftest import PORTED
from linuxmm.tools.selftest import report

DOCS = Path(__file__).parent.parent.parent / "docs"


def _make_kselftests():
    sys.path.insert(0, str(DOCS))
    try:
        import make_kselftests
    finally:
        sys.path.pop(0)
    return make_kselftests


def test_kselftests_page_is_up_to_date():
    make = _make_kselftests()
    data = report([program_results(name) for name in sorted(PORTED)])
    assert make.PAGE.read_text() == make.render(data), "run python docs/make_kselftests.py"
    assert make.summary(data) in make.README.read_text(), "the README's selftest totals are out of date"


def test_catalog_names_every_ported_program():
    from linuxmm.kselftest import CATALOG, PORTED_STATUS, program_name

    ported = {program_name(f) for f, status, _ in CATALOG if status == PORTED_STATUS}
    assert ported == set(PORTED)
