"""The performance gate's verdicts on a pytest-benchmark report (docs/performance.md).

    python benchmarks/check.py bench.json                          # against benchmarks/baseline.json (CI)
    python benchmarks/check.py bench.json --against old.json       # against another run's ratios
    python benchmarks/check.py bench.json --record-baseline benchmarks/baseline.json
    python benchmarks/check.py cost.json --cost-table results/bench/penalty_cost.md

Each gate entry (``extra_info["gate"]``) carries ``ratio``, gpbench / reference, the median of per-round ratios, and
its distribution-free 95 % interval ``ratio_low``-``ratio_high`` (benchmarks/pairing.py). An entry fails when the
whole interval lies above its baseline ratio times the bound (``ratio_low > baseline * bound``): measurably slower
than the baseline by more than the bound, whatever the machine's load did, since both sides of each ratio ran
interleaved. An entry with an absolute ``bound`` (FID against torch-fidelity) also fails when its median exceeds
that bound and its interval lies above 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

BASELINE = Path(__file__).with_name("baseline.json")
DEFAULT_BOUND = 1.10
RECORD_COMMAND = "python benchmarks/gate.py --record-baseline"


class ReportError(Exception):
    """A file given to the check is missing or is not what it should be."""


def read_json(path: str | Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError(f"{path}: not a readable JSON file ({what}): {error}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object ({what})")
    return data


def read_report(path: str | Path) -> dict:
    report = read_json(path, "a pytest-benchmark report, from --benchmark-json or --benchmark-save")
    if not isinstance(report.get("benchmarks"), list):
        raise ReportError(f"{path}: no 'benchmarks' list; expected a pytest-benchmark report (--benchmark-json)")
    return report


def gate_ratios(report: dict) -> dict[str, dict]:
    """Gate entry -> its extra_info (ratio, interval, ...), for the entries that were timed."""
    return {bench["extra_info"]["gate"]: bench["extra_info"] for bench in report["benchmarks"]
            if "gate" in bench.get("extra_info", {}) and "ratio" in bench["extra_info"]}


def read_baseline(path: str | Path) -> tuple[dict[str, float], float, str | None]:
    """(entry -> baseline ratio, bound, the CPU it was recorded on) from a baseline file, or from another run's
    report (bound: the default; the CPU: not named)."""
    data = read_json(path, "a baseline: benchmarks/baseline.json or a pytest-benchmark report")
    if isinstance(data.get("benchmarks"), list):
        return {entry: info["ratio"] for entry, info in gate_ratios(data).items()}, DEFAULT_BOUND, None
    ratios, bound = data.get("ratios"), data.get("bound")
    if not isinstance(ratios, dict) or not all(isinstance(value, dict) and isinstance(value.get("ratio"), (int, float))
                                               for value in ratios.values()):
        raise ReportError(f"{path}: expected 'ratios': {{entry: {{'ratio': number, ...}}}}; record it with "
                          f"{RECORD_COMMAND}")
    if not isinstance(bound, (int, float)) or not 1.0 < bound < 2.0:
        raise ReportError(f"{path}: 'bound' must be a number between 1 and 2, got {bound!r}")
    recorded = data.get("recorded")
    return ({entry: value["ratio"] for entry, value in ratios.items()}, float(bound),
            recorded.get("cpu") if isinstance(recorded, dict) else None)


def describe(info: dict) -> str:
    """The ratio and, when measured, its 95 % confidence interval."""
    interval = f" (95 % CI {info['ratio_low']:.3f}-{info['ratio_high']:.3f})" if "ratio_low" in info else ""
    return f"{info['ratio']:.3f}{interval}"


def regressions(ratios: dict[str, dict], baseline: dict[str, float], bound: float, source: str) -> list[str]:
    """One line per entry whose ratio's interval lies above baseline x bound, or that has no baseline."""
    lines = []
    for entry, info in ratios.items():
        if entry not in baseline:
            lines.append(f"{entry}: no baseline ratio in {source}; record one with {RECORD_COMMAND}")
        elif info.get("ratio_low", info["ratio"]) > baseline[entry] * bound:
            lines.append(f"{entry}: gpbench/reference = {describe(info)}, above its baseline {baseline[entry]:.3f} "
                         f"x bound {bound:.2f} = {baseline[entry] * bound:.3f}")
    return lines


def absolute_violations(report: dict) -> list[str]:
    """Entries with an absolute ``bound`` whose median exceeds it while the interval lies above 1."""
    return [f"{bench['extra_info'].get('gate', bench['name'])}: gpbench/reference = {describe(bench['extra_info'])} "
            f"> bound {bench['extra_info']['bound']}" for bench in report["benchmarks"]
            if "bound" in bench.get("extra_info", {}) and "ratio" in bench["extra_info"]
            and bench["extra_info"]["ratio"] > bench["extra_info"]["bound"]
            and bench["extra_info"].get("ratio_low", bench["extra_info"]["ratio"]) > 1.0]


def comparison_table(ratios: dict[str, dict], baseline: dict[str, float], bound: float) -> list[str]:
    lines = [f"{'gate entry':<36} {'baseline':>8}  {'now (95 % CI)':<26} {'change':>7}  verdict"]
    for entry, info in ratios.items():
        before = baseline.get(entry)
        now = f"{info['ratio']:.3f} ({info.get('ratio_low', info['ratio']):.3f}-{info.get('ratio_high', info['ratio']):.3f})"
        if before is None:
            lines.append(f"{entry:<36} {'-':>8}  {now:<26} {'-':>7}  no baseline")
            continue
        slower = info.get("ratio_low", info["ratio"]) > before * bound
        lines.append(f"{entry:<36} {before:>8.3f}  {now:<26} {100 * (info['ratio'] / before - 1):>+6.1f}%  "
                     + ("SLOWER" if slower else "ok"))
    return lines


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def baseline_record(report: dict, bound: float) -> dict:
    machine = report.get("machine_info", {})
    commit = report.get("commit_info", {})
    return {"recorded": {"cpu": cpu_name(), "cores": machine.get("cpu", {}).get("count"), "torch": _torch_version(),
                         "python": machine.get("python_version"), "commit": commit.get("id"),
                         "dirty": commit.get("dirty"), "date": datetime.date.today().isoformat()},
            "bound": bound,
            "ratios": {entry: {"ratio": round(info["ratio"], 4), "low": round(info["ratio_low"], 4),
                               "high": round(info["ratio_high"], 4)}
                       for entry, info in sorted(gate_ratios(report).items())}}


def cost_table(report: dict) -> str:
    rows = [b for b in report["benchmarks"] if b.get("group") == "penalty cost" and "ratio" in b.get("extra_info", {})]
    machine = report.get("machine_info", {})
    lines = ["# Penalty cost: one critic step with each penalty vs without", "",
             f"Machine: {cpu_name()}, {machine.get('cpu', {}).get('count', '?')} cores; torch "
             f"{_torch_version()}; one thread; made by "
             "`pytest benchmarks/bench_penalty_cost.py --benchmark-only --benchmark-json=cost.json && "
             "python benchmarks/check.py cost.json --cost-table results/bench/penalty_cost.md`. Each step is "
             "timed interleaved with the same step without a penalty; the ratio is the median of per-round ratios.",
             "", "| critic (batch) | penalty | ms per step | ms without | ratio to no penalty |",
             "|---|---|---|---|---|"]
    for bench in sorted(rows, key=lambda b: (b["extra_info"]["arch"], b["extra_info"]["ratio"])):
        info = bench["extra_info"]
        lines.append(f"| {info['arch']} ({info['batch']}) | {info['penalty']} | {1000 * bench['stats']['median']:.1f} "
                     f"| {1000 * info['reference_median_s']:.1f} | {info['ratio']:.2f} |")
    return "\n".join(lines) + "\n"


def _torch_version() -> str:
    try:
        import torch

        return torch.__version__
    except ImportError:
        return "?"


def check(report_path: str | Path, against: str | Path = BASELINE) -> int:
    """Print the comparison and the verdicts; 1 on a regression, 0 otherwise."""
    report = read_report(report_path)
    ratios = gate_ratios(report)
    baseline, bound, recorded = read_baseline(against)
    if recorded and recorded != cpu_name():
        print(f"note: the baseline was recorded on {recorded}; this machine is {cpu_name()} (a different machine "
              "moves ratios a few percent; re-record on a new machine class: docs/performance.md)")
    print("\n".join(comparison_table(ratios, baseline, bound)))
    failed = regressions(ratios, baseline, bound, str(against)) + absolute_violations(report)
    for line in failed:
        print(f"PERFORMANCE REGRESSION: {line}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", help="a pytest-benchmark report (--benchmark-json or --benchmark-save output)")
    parser.add_argument("--against", default=str(BASELINE),
                        help="the baseline: benchmarks/baseline.json (default) or another run's report")
    parser.add_argument("--record-baseline", metavar="FILE", help="write this run's ratios as the baseline FILE")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND,
                        help=f"with --record-baseline: the bound to record (default {DEFAULT_BOUND})")
    parser.add_argument("--cost-table", metavar="FILE", help="write the penalty cost table (Markdown) here")
    args = parser.parse_args(argv)
    try:
        if args.record_baseline:
            if not 1.0 < args.bound < 2.0:
                raise ReportError(f"--bound: expected a number between 1 and 2, got {args.bound}")
            record = baseline_record(read_report(args.report), args.bound)
            Path(args.record_baseline).write_text(json.dumps(record, indent=1) + "\n")
            print(f"wrote {args.record_baseline}: {len(record['ratios'])} ratios, bound {args.bound}")
            return 0
        if args.cost_table:
            Path(args.cost_table).parent.mkdir(parents=True, exist_ok=True)
            Path(args.cost_table).write_text(cost_table(read_report(args.report)))
            print(f"wrote {args.cost_table}")
            return 0
        return check(args.report, args.against)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
