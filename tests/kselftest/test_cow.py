"""``cow.c`` of ``tools/testing/selftests/mm``, Linux 6.18: its test cases as ported in
``linuxmm.kselftest.cow``, one pytest test each; and its vmsplice cases against this host.

``tests/data/host-linux-6.18/pipe_probe.txt`` (``tests/probe/pipe_probe.c``) took the steps of
the four vmsplice cases on this machine's 6.18, on a base page and each THP kind cow.c
prepares (no swap: the swapped-out kinds skip there as here): each run must end as it did
there."""

from pathlib import Path

from ksft_pytest import collect, program_results
from linuxmm.kselftest.ksft import INFO, PASS

collect("cow", globals())

HOST_PROBE = Path(__file__).parents[1] / "data" / "host-linux-6.18" / "pipe_probe.txt"


def simulated_runs(prefix: str) -> dict[str, str]:
    """``[RUN] DESC ... with KIND`` -> "pass" or "leak" for the runs whose DESC starts with
    ``prefix`` (the THP size the message ends with left out)."""
    runs, current = {}, None
    for r in program_results("cow").results:
        if r.result == INFO:
            current = r.name.removeprefix("[RUN] ").split(" (")[0] if r.name.startswith("[RUN] ") else None
        elif current is not None and current.startswith(prefix):
            runs[current] = "pass" if r.result == PASS else r.result if r.name == "" else "leak"
            current = None
    return runs


def test_vmsplice_cases_as_on_the_host():
    host = dict(line.rsplit(": ", 1) for line in HOST_PROBE.read_text().splitlines() if " ... with " in line)
    assert len(host) == 24
    sim = simulated_runs("vmsplice()")
    assert {run: sim.get(run) for run in host} == host
