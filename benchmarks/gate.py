"""Run the performance gate and judge it: against the committed baseline, a saved run, or another commit.

    python benchmarks/gate.py                      # the working tree against benchmarks/baseline.json (CI runs this)
    python benchmarks/gate.py --save NAME          # ... and keep the run as .benchmarks/<machine>/NNNN_NAME.json
    python benchmarks/gate.py --compare NAME       # the working tree against the saved run NAME
    python benchmarks/gate.py --against REV        # commit REV's gpbench, then the working tree's, compared
    python benchmarks/gate.py --record-baseline    # write benchmarks/baseline.json from this run

Runs are saved the way pytest-benchmark's ``--benchmark-save`` saves them (``.benchmarks/<machine id>/``, with
machine and commit info). Ratios (gpbench / textbook, timed interleaved) are compared, not seconds, so two runs on a
loaded machine compare (docs/performance.md). Exit 0: no entry slower; 1: a regression; 2: a bad option or file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import check

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / ".benchmarks"
GATE_FILES = ("benchmarks/bench_gate.py", "benchmarks/bench_fid.py")


def run_gate(tree: Path, report: Path, save: str | None, select: str | None) -> None:
    """Time the gate on the gpbench in ``tree`` (this checkout, or a worktree holding this checkout's benchmarks)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GATE_FILES, "--benchmark-only",
               f"--benchmark-json={report}", f"--benchmark-storage=file://{STORAGE}"]
    if save:
        command.append(f"--benchmark-save={save}")
    if select:
        command += ["-k", select]
    print(f"gate: timing gpbench from {tree}", flush=True)
    if subprocess.run(command, cwd=tree).returncode != 0:
        raise check.ReportError(f"the gate's benchmarks failed in {tree} (their output is above)")


def saved_run(name: str) -> Path:
    """The newest run saved under ``name`` in .benchmarks/ (pytest-benchmark's NNNN_NAME.json)."""
    found = sorted(STORAGE.glob(f"*/[0-9][0-9][0-9][0-9]_{name}.json"), key=lambda path: path.name)
    if not found:
        saved = sorted({path.stem.split("_", 1)[-1] for path in STORAGE.glob("*/*.json")})
        raise check.ReportError(f"--compare {name}: no saved run of that name in {STORAGE}; saved: "
                                f"{', '.join(saved) or 'none (save one with --save NAME)'}")
    return found[-1]


def worktree_of(revision: str, where: Path) -> Path:
    """A detached worktree of ``revision`` holding this checkout's benchmarks (the gate times its gpbench)."""
    tree = where / "worktree"
    result = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise check.ReportError(f"--against {revision}: not a commit git can check out here "
                                f"({result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'git failed'})")
    shutil.rmtree(tree / "benchmarks", ignore_errors=True)
    shutil.copytree(ROOT / "benchmarks", tree / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "conftest.py", tree / "conftest.py")
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--compare", metavar="NAME", help="compare with the run saved as NAME (.benchmarks/)")
    target.add_argument("--against", metavar="REV", help="time commit REV's gpbench first and compare with it")
    target.add_argument("--record-baseline", action="store_true",
                        help=f"write {check.BASELINE.relative_to(ROOT)} from this run")
    parser.add_argument("--save", metavar="NAME", help="keep this run in .benchmarks/ as NAME")
    parser.add_argument("-k", dest="select", metavar="EXPR", help="only the entries pytest -k EXPR selects")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            scratch = Path(scratch)
            against = check.BASELINE
            if args.compare:
                against = saved_run(args.compare)
            elif args.against:
                tree = worktree_of(args.against, scratch)
                try:
                    against = scratch / "against.json"
                    run_gate(tree, against, f"against-{args.against.replace('/', '-')}", args.select)
                finally:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True)
            report = scratch / "gate.json"
            run_gate(ROOT, report, args.save, args.select)
            if args.record_baseline:
                return check.main([str(report), "--record-baseline", str(check.BASELINE)])
            print(f"gate: gpbench/reference ratios against {against}")
            return check.check(report, against)
    except check.ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
