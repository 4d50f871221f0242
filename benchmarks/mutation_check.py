"""Mutation check: do the coverage tests notice a method that runs at the wrong level?

Usage::

    python benchmarks/mutation_check.py                 # every mutation, every coverage test file
    python benchmarks/mutation_check.py --jobs 1        # one pytest process at a time
    python benchmarks/mutation_check.py --only wald-one-sided k_L-1
    python benchmarks/mutation_check.py --files tests/coverage/test_exact_coverage.py

Each mutation is applied to a fresh copy of the package ``src/synthinfer`` in a
temporary directory (the real source tree is never written). For every
mutation and every coverage test file, ``python -m pytest -q -p no:cacheprovider
-x FILE`` runs with the copy first on ``PYTHONPATH``; a small pytest plugin
placed beside the copy checks at session start that ``synthinfer`` is imported
from the copy, and stops the run otherwise. A file *catches* a mutation when
its tests fail. The unmutated copy is run too, and every file must pass on it.

Mutation sites are located by regular expressions inside the named function
or class, so small refactors do not matter; when a site is not found (or found
a different number of times than expected) the script stops with an error
naming the mutation, the file and the pattern, rather than reporting a
mutation that was never applied.

The script prints a table (mutation × test file: caught or not), then the
first failing test of each catching file, and exits with status 1 when the
baseline fails or some mutation is caught by no file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "synthinfer"
DEFAULT_FILES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "coverage").glob("test_*.py")
)
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"]
TIMEOUT_SECONDS = 900

ORIGIN_PLUGIN = '''\
"""Stop the pytest session unless synthinfer is imported from the mutated copy."""

import os
from pathlib import Path

import pytest


def pytest_sessionstart(session):
    import synthinfer

    expected = Path(os.environ["SYNTHINFER_MUTATION_COPY"]).resolve()
    origin = Path(synthinfer.__file__).resolve()
    if expected not in origin.parents:
        raise pytest.UsageError(f"synthinfer imported from {origin}, not from the copy {expected}")
'''


@dataclass(frozen=True)
class Mutation:
    """One edit of one file of the package.

    Attributes
    ----------
    name : str
        Short name, shown in the table.
    description : str
        What the edit does to the method.
    path : str
        File inside the package.
    scope : str or None
        Regex of the header (at column 0) of the function or class that holds
        the site; the scope runs to the next top-level decorator, definition or
        assignment.
        ``None`` means the whole file.
    pattern, replacement : str
        ``re.sub`` arguments (multiline mode).
    count : int
        How many matches the scope must hold (``-1``: at least one).
    """

    name: str
    description: str
    path: str
    scope: str | None
    pattern: str
    replacement: str
    count: int = 1


MUTATIONS = [
    Mutation(
        "alpha3-doubled",
        "Algorithms 1, 2, 5: conformal band (Qlo/Qhi, weighted quantiles) at 2·α3",
        "methods.py",
        r"def _gap_calibration\b",
        r"\b(conformal_lower|conformal_upper|weighted_lower|weighted_upper)"
        r"\(([^()\n]*?),\s*alpha3\)",
        r"\1(\2, 2 * alpha3)",
        count=-1,
    ),
    Mutation(
        "ranks-at-2a",
        "conformal_ranks: k_L, k_U computed at level 2·a (every unweighted band, Algorithm 4 too)",
        "conformal.py",
        r"def conformal_ranks\b",
        r"^([ \t]*)alpha\s*=\s*(.+?)[ \t]*$",
        r"\1alpha = 2 * \2",
    ),
    Mutation(
        "wald-one-sided",
        "WaldInterval.interval: z_{1−a} instead of z_{1−a/2}",
        "intervals/_families.py",
        r"class WaldInterval\b",
        r"ndtri\((.+?)\s*/\s*2(?:\.0)?\)",
        r"ndtri(\1)",
    ),
    Mutation(
        "k_L-1",
        "conformal_ranks returns k_L − 1",
        "conformal.py",
        r"def conformal_ranks\b",
        r"^([ \t]*)return (\w+), (\w+)[ \t]*$",
        r"\1return \2 - 1, \3",
    ),
    Mutation(
        "k_L+1",
        "conformal_ranks returns k_L + 1",
        "conformal.py",
        r"def conformal_ranks\b",
        r"^([ \t]*)return (\w+), (\w+)[ \t]*$",
        r"\1return \2 + 1, \3",
    ),
    Mutation(
        "k_U-1",
        "conformal_ranks returns k_U − 1",
        "conformal.py",
        r"def conformal_ranks\b",
        r"^([ \t]*)return (\w+), (\w+)[ \t]*$",
        r"\1return \2, \3 - 1",
    ),
    Mutation(
        "k_U+1",
        "conformal_ranks returns k_U + 1",
        "conformal.py",
        r"def conformal_ranks\b",
        r"^([ \t]*)return (\w+), (\w+)[ \t]*$",
        r"\1return \2, \3 + 1",
    ),
    Mutation(
        "task-only-no-bonferroni",
        "Algorithm 5: historical gap intervals at α2 instead of α2/T",
        "methods.py",
        r"def task_only\b",
        r"(gap_level\s*=\s*lambda\s+(\w+)\s*,\s*(\w+)\s*:\s*)\2\s*/\s*\3\b",
        r"\1\2",
    ),
    Mutation(
        "weighted-no-current-mass",
        "Algorithm 2: no mass 1/(Σw + 1) for the current task (p_j = w_j / Σw)",
        "conformal.py",
        r"def weighted_upper\b",
        r"(\.sum\([^()\n]*\))\s*\+\s*1(?:\.0)?\b",
        r"\1",
    ),
]


class MutationSiteError(RuntimeError):
    """A mutation site was not found as expected."""


# a top-level statement that ends the previous block: a decorator, a definition or an
# assignment at column 0 (a closing parenthesis of a signature is not one)
_TOP_LEVEL = r"^(?:@|def |async def |class |[A-Za-z_][\w.]*\s*(?::[^=\n]*)?=)"


def _scope_span(text: str, header: str | None) -> tuple[int, int]:
    """Start and end of the block whose first line matches ``header`` at column 0."""
    if header is None:
        return 0, len(text)
    found = list(re.finditer(rf"^{header}", text, flags=re.MULTILINE))
    if len(found) != 1:
        raise MutationSiteError(f"scope {header!r} found {len(found)} times (expected once)")
    start = found[0].start()
    line_end = text.find("\n", start)
    following = re.search(_TOP_LEVEL, text[line_end + 1 :], flags=re.MULTILINE)
    end = len(text) if following is None else line_end + 1 + following.start()
    return start, end


def apply(mutation: Mutation, package: Path) -> str:
    """Edit ``mutation.path`` under ``package``; return a one-line diff summary."""
    path = package / mutation.path
    if not path.is_file():
        raise MutationSiteError(f"{mutation.name}: file {mutation.path} not found in the package")
    text = path.read_text(encoding="utf-8")
    try:
        start, end = _scope_span(text, mutation.scope)
    except MutationSiteError as error:
        raise MutationSiteError(f"{mutation.name}: {mutation.path}: {error}") from None
    block = text[start:end]
    edited, matches = re.subn(mutation.pattern, mutation.replacement, block, flags=re.MULTILINE)
    expected_ok = matches >= 1 if mutation.count == -1 else matches == mutation.count
    if not expected_ok:
        expected = "at least 1" if mutation.count == -1 else str(mutation.count)
        raise MutationSiteError(
            f"{mutation.name}: pattern {mutation.pattern!r} matched {matches} times in "
            f"{mutation.path} (scope {mutation.scope!r}); expected {expected}"
        )
    mutated = text[:start] + edited + text[end:]
    try:
        compile(mutated, str(path), "exec")
    except SyntaxError as error:
        raise MutationSiteError(
            f"{mutation.name}: the edit breaks {mutation.path}: {error}"
        ) from None
    path.write_text(mutated, encoding="utf-8")
    diff = difflib.unified_diff(block.splitlines(), edited.splitlines(), lineterm="", n=0)
    changed = [
        f"    {line[0]} {line[1:].strip()}"
        for line in diff
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return "\n".join(changed)


def make_copy(root: Path, mutation: Mutation | None) -> tuple[Path, str]:
    """A copy of the package (mutated unless ``mutation`` is None) and the diff summary."""
    root.mkdir(parents=True)
    shutil.copytree(PACKAGE, root / "synthinfer", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "_mutation_origin.py").write_text(ORIGIN_PLUGIN, encoding="utf-8")
    diff = "" if mutation is None else apply(mutation, root / "synthinfer")
    return root, diff


@dataclass
class Outcome:
    """Result of one pytest run."""

    returncode: int
    seconds: float
    first_failure: str
    tail: str


def run_file(copy: Path, test_file: str) -> Outcome:
    """Run one test file against one copy of the package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(copy)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["SYNTHINFER_MUTATION_COPY"] = str(copy / "synthinfer")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, *PYTEST, "-p", "_mutation_origin", test_file]
    start = time.perf_counter()
    process = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    seconds = time.perf_counter() - start
    output = process.stdout + process.stderr
    # FAILED: a test's assertion; ERROR: a fixture's (setup) assertion
    failed = re.findall(r"^(FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)
    first = ""
    if failed:
        kind, node = failed[0]
        first = node.split("::", 1)[-1] + (" (in its fixture)" if kind == "ERROR" else "")
    tail = "\n".join(output.strip().splitlines()[-15:])
    return Outcome(process.returncode, seconds, first, tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="+", default=DEFAULT_FILES, help="test files to run")
    parser.add_argument("--only", nargs="+", help="run only these mutations (by name)")
    parser.add_argument("--jobs", type=int, default=2, help="pytest processes at a time")
    args = parser.parse_args(argv)

    mutations = MUTATIONS
    if args.only:
        unknown = sorted(set(args.only) - {m.name for m in MUTATIONS})
        if unknown:
            parser.error(f"unknown mutation(s) {unknown}; known: {[m.name for m in MUTATIONS]}")
        mutations = [m for m in MUTATIONS if m.name in args.only]
    files = [str(Path(f)) for f in args.files]
    for test_file in files:
        if not (ROOT / test_file).is_file():
            parser.error(f"test file {test_file} not found under {ROOT}")

    names = ["baseline", *(m.name for m in mutations)]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synthinfer-mutants-") as temp:
        copies: dict[str, Path] = {}
        print("Mutations (applied to copies of src/synthinfer):")
        for mutation in [None, *mutations]:
            name = "baseline" if mutation is None else mutation.name
            try:
                copies[name], diff = make_copy(Path(temp) / name, mutation)
            except MutationSiteError as error:
                print(f"error: mutation site not found: {error}", file=sys.stderr)
                return 2
            if mutation is not None:
                print(f"  {name}: {mutation.description} ({mutation.path})\n{diff}")

        # longest files first keeps both workers busy until the end
        jobs = [(name, f) for f in files for name in names]
        jobs.sort(key=lambda job: (0 if "battles" in job[1] else 1, job[1]))
        outcomes: dict[tuple[str, str], Outcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {job: pool.submit(run_file, copies[job[0]], job[1]) for job in jobs}
            for job, future in futures.items():
                outcomes[job] = future.result()

    errors = [
        (job, outcome) for job, outcome in outcomes.items() if outcome.returncode not in (0, 1)
    ]
    for (name, test_file), outcome in errors:
        print(f"\nerror: {name} × {test_file}: pytest exit status {outcome.returncode}")
        print(textwrap.indent(outcome.tail, "    "))
    if errors:
        return 2

    short = [Path(f).stem.removeprefix("test_") for f in files]
    width = max(len(n) for n in names)
    cell = max(max(len(s) for s in short), len("not caught"))
    print("\nMutation × test file (caught = the file's tests fail on the mutated copy)\n")
    header = f"{'mutation':<{width}}  " + "  ".join(f"{s:<{cell}}" for s in short) + "  caught by"
    print(header)
    print("-" * len(header))
    uncaught = []
    for name in names:
        marks, count = [], 0
        for test_file in files:
            outcome = outcomes[(name, test_file)]
            failed = outcome.returncode == 1
            count += failed
            if name == "baseline":
                marks.append("FAILS" if failed else "passes")
            else:
                marks.append("caught" if failed else "not caught")
        summary = f"{count} file(s)" if name != "baseline" else ""
        if name != "baseline" and count == 0:
            uncaught.append(name)
            summary = "NOBODY"
        print(f"{name:<{width}}  " + "  ".join(f"{m:<{cell}}" for m in marks) + f"  {summary}")

    print("\nFirst failing test of each catching file:")
    for name in names[1:]:
        for test_file in files:
            outcome = outcomes[(name, test_file)]
            if outcome.returncode == 1:
                print(f"  {name:<{width}}  {Path(test_file).name}::{outcome.first_failure}")

    baseline_failures = [f for f in files if outcomes[("baseline", f)].returncode != 0]
    for test_file in baseline_failures:
        print(f"\nbaseline fails in {test_file}:")
        print(textwrap.indent(outcomes[("baseline", test_file)].tail, "    "))
    total = time.perf_counter() - started
    print(f"\n{len(jobs)} pytest runs, {args.jobs} at a time, {total:.0f} s in total")
    if baseline_failures or uncaught:
        if uncaught:
            print(f"not caught by any file: {', '.join(uncaught)}")
        return 1
    print("every mutation is caught; the unmutated package passes every file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
