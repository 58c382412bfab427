"""What one benchmark child process costs: instructions by valgrind's callgrind, or process
CPU nanoseconds where valgrind is not on PATH (noisier: it moves with the machine's load).

The benchmarks that price a call in instructions (guarantee_cost.py, guarantee_cost_http.py)
run each configuration twice with different call counts and difference the two counts, so
start-up, imports and set-up are taken out.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import tempfile

__all__ = ["count", "unit", "valgrind"]


def valgrind() -> str | None:
    """valgrind's path, or None: then :func:`count` measures CPU time."""
    return shutil.which("valgrind")


def unit(found: str | None) -> str:
    """What :func:`count` returns, for a table's header."""
    return "instructions" if found else "CPU ns (valgrind not found)"


def count(command: list[str], found: str | None) -> float:
    """Instructions (or CPU nanoseconds without valgrind) ``command`` runs, to its exit."""
    if found is None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return spent * 1e9
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "cg.out")
        subprocess.run(
            [found, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        with open(out) as file:
            for line in file:
                match = re.match(r"(?:summary|totals): (\d+)", line)
                if match:
                    return float(match.group(1))
    raise SystemExit("callgrind wrote no summary")
