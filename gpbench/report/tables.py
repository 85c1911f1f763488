"""Comparison tables from finished runs: replication (method x dataset, with the paper's numbers) and flex
(one row per penalty setting: metrics, stability, cost). Written as Markdown, CSV and booktabs LaTeX."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from gpbench.fileio import write_csv_atomic, write_text_atomic
from gpbench.paper import REFERENCE_METHOD, SAME_OPTIMIZER, preset
from gpbench.metrics import LOWER_IS_BETTER, RESULT_LABELS
from gpbench.training.rundir import RunDir
from gpbench.report.health import health_cell
from gpbench.report.published import closest, published_cell, run_protocol
from gpbench.report.architectures import figure2_table, table1_table
from gpbench.data import get_dataset
from gpbench.analysis.statistics import SIGNIFICANCE, Comparison, compare, holm, summarise
from gpbench.report.results import (Block, data_note, format_summary, real_data_notes, stability_text,
                                    table_metrics)
from gpbench.analysis.runresult import RunResult, group_runs, marks_of


def _metric_groups(results: list[RunResult]):
    """Per run group: (dataset, label, runs, the metrics its dataset's table shows, that table's marked title)."""
    for (dataset, label), runs in group_runs(results).items():
        same_data = [r for r in results if r.dataset == dataset]
        yield dataset, label, runs, table_metrics(dataset, same_data), dataset + marks_of(same_data)


def _scored(runs: list[RunResult]) -> int | None:
    """The samples the runs' final evaluation scored (None before any evaluation)."""
    return next(((run.final.get("protocol") or {}).get("samples") for run in runs if run.final), None)


def _usable(runs: list[RunResult]) -> list[RunResult]:
    """The runs whose metrics count (RunResult.counted)."""
    return [r for r in runs if r.counted]


def replication(results: list[RunResult]) -> tuple[list[Block], list[dict]]:
    """Blocks per dataset and long-format records (one per run group and metric)."""
    blocks: dict[str, Block] = {}
    records = []
    for dataset, label, runs, metrics, title in _metric_groups(results):
        method = runs[0].config["method"]
        block = blocks.setdefault(dataset, Block(title, ["method", "seeds", *[RESULT_LABELS[m] for m in metrics],
                                                         "paper / public", "Δ", "iterations", "stability", "health"],
                                                 []))
        cells = [label, f"{len(_usable(runs))}/{len(runs)}"]
        paper_cells, delta_cells = [], []
        for metric in metrics:
            summary = summarise([r.metric(metric) for r in _usable(runs)])
            cells.append(format_summary(summary, 4 if metric != "modes" else 3))
            matches = closest(method, dataset, metric, run_protocol(runs[0].config, metric, _scored(runs), len(runs)))
            nearest, differs = matches[0] if matches else ({}, [])
            value = nearest.get("value") if isinstance(nearest.get("value"), (int, float)) else None
            rehearsal = bool(marks_of(runs))                 # rehearsal numbers are not compared with the paper
            delta = summary[0] - value if summary and value is not None and not rehearsal else None
            if matches:
                paper_cells.append(published_cell(matches, RESULT_LABELS[metric]))
                delta_cells.append(f"{delta:+.3g}" if delta is not None else "—")
            records.append({"dataset": dataset, "method": label, "metric": metric,
                            "mean": summary[0] if summary else None, "std": summary[1] if summary else None,
                            "seeds_used": summary[2] if summary else 0, "seeds": len(runs),
                            "paper": value, "paper_std": nearest.get("spread"), "paper_source": nearest.get("source"),
                            "paper_differs": "; ".join(differs) if matches else None, "delta": delta,
                            "iterations": runs[0].config["iterations"], "stability": stability_text(runs),
                            "rehearsal": marks_of(runs)})
        health = health_cell(runs)
        cells += ["; ".join(paper_cells) or "—", "; ".join(delta_cells) or "—",
                  f"{runs[0].config['iterations']:,}", stability_text(runs), health]
        for record in records[-len(metrics):]:
            record["health"] = health
        block.rows.append(cells)
    for dataset, block in blocks.items():
        runs = [r for r in results if r.dataset == dataset]
        block.notes = [data_note(runs)] + real_data_notes(runs) + separation_notes(group_runs(runs), dataset, records)
    return list(blocks.values()), records



def separation(reference: tuple[float, float, int] | None,
               other: tuple[float, float, int] | None) -> tuple[str | None, Comparison | None]:
    """The comparison of two seed summaries (:func:`gpbench.report.results.compare`), or why there is none."""
    if reference is None or other is None:
        return "not measured", None
    if min(reference[2], other[2]) < 2:
        return f"no seed spread (1 seed) ({reference[0] - other[0]:+.3g})", None
    return None, compare(reference, other)


def verdict(comparison: Comparison, metric: str) -> str:
    """"better" or "worse" for the first summary when the comparison's p (Holm-adjusted where adjusted) is below
    SIGNIFICANCE, "identical" for equal seeds, else "not separated"."""
    if comparison.test == "identical":
        return "identical"
    if comparison.decisive_p >= SIGNIFICANCE:
        return "not separated"
    gain = -comparison.difference if metric in LOWER_IS_BETTER else comparison.difference
    return "better" if gain > 0 else "worse"


def _summary(runs: list[RunResult], metric: str):
    return summarise([r.metric(metric) for r in _usable(runs)])


def separation_notes(groups: dict, dataset: str, records: list[dict]) -> list[str]:
    """A line per method compared with WGAN-GP, and one of WGAN-GP with RMSProp against clipping (the same
    optimizer): each metric's verdict with its comparison; the dataset's primary metric Holm-adjusted over the
    table's comparisons, the others marked exploratory; also written into the CSV records of the first method
    (``vs_<method>``)."""
    by_label = {label: runs for (_, label), runs in groups.items()}
    pairs = [(REFERENCE_METHOD, label) for label in by_label if label != REFERENCE_METHOD]
    pairs += [SAME_OPTIMIZER] if all(label in by_label for label in SAME_OPTIMIZER) else []
    pairs = [(first, second) for first, second in pairs if first in by_label]
    metrics = table_metrics(dataset, [run for runs in by_label.values() for run in runs])
    primary = get_dataset(dataset).primary_metric
    compared = {(first, second, metric): separation(_summary(by_label[first], metric), _summary(by_label[second], metric))
                for first, second in pairs for metric in metrics}
    holm([comparison for (_, _, metric), (_, comparison) in compared.items() if comparison and metric == primary])
    return [_separation_line(by_label, first, second, dataset, metrics, primary, compared, records)
            for first, second in pairs]


def _separation_line(by_label: dict, first: str, second: str, dataset: str, metrics: list[str], primary: str,
                     compared: dict, records: list[dict]) -> str:
    name = "WGAN-GP" if first == REFERENCE_METHOD else first
    if not _usable(by_label[second]):
        return (f"{name} vs {second}: not compared, no {second} seed trained to usable samples "
                f"({stability_text(by_label[second])}).")
    parts = []
    for metric in metrics:
        reason, comparison = compared[first, second, metric]
        judged = verdict(comparison, metric) if comparison else reason
        role = "primary, Holm-adjusted" if metric == primary else "exploratory"
        parts.append(f"{RESULT_LABELS[metric]} [{role}] {judged}" + (f" {comparison.text()}" if comparison else "")
                     + (equal_wall_clock(by_label[first], by_label[second], metric) if metric == primary else ""))
        for record in records:
            if record["dataset"] == dataset and record["method"] == first and record["metric"] == metric:
                record[f"vs_{second}"] = judged
    return f"{name} vs {second}: " + "; ".join(parts) + "."


def equal_wall_clock(first: list[RunResult], second: list[RunResult], metric: str) -> str:
    """The same comparison at equal training time (exploratory): each run's evaluation-curve value at its last
    snapshot within the faster method's mean training seconds, both sides scored on the curve's sample count; ""
    when either side has fewer than 2 such runs."""
    def seconds(runs):
        ends = [run.series(metric, "curve", "elapsed_seconds")[0] for run in _usable(runs)]
        return [float(x.max()) for x in ends if len(x)]

    both = [seconds(first), seconds(second)]
    if min(len(side) for side in both) < 2:
        return ""
    budget = min(float(np.mean(side)) for side in both)

    def at_budget(runs):
        values = []
        for run in _usable(runs):
            x, y = run.series(metric, "curve", "elapsed_seconds")
            values += [float(y[x <= budget][-1])] if (x <= budget).any() else []
        return summarise(values)

    reason, comparison = separation(at_budget(first), at_budget(second))
    shown = f"{verdict(comparison, metric)} {comparison.text()}" if comparison else reason
    return f"; at equal wall clock ({budget:,.0f} s, curve points, exploratory) {shown}"


def flex(results: list[RunResult]) -> tuple[list[Block], list[dict]]:
    """One row per (dataset, penalty setting): final metrics, stability, cost."""
    blocks: dict[str, Block] = {}
    records = []
    for dataset, label, runs, metrics, title in _metric_groups(results):
        block = blocks.setdefault(dataset, Block(title, ["setting", "λ", "constrains",
                                                         "penalty (every resolved setting)", "seeds",
                                                         *[RESULT_LABELS[m] for m in metrics], "final W estimate",
                                                         "diverged", "s / 1k it (engine)", "health"], []))
        usable = _usable(runs)
        wasserstein = summarise([r.final_wasserstein_estimate() for r in usable])
        cost = summarise([r.seconds_per_1k_iterations() for r in runs])
        penalty = runs[0].penalty
        settings = penalty.settings()
        description = ", ".join(f"{k}={v}" for k, v in settings.items() if k != "lambda")
        strength = settings.get("lambda", "—")
        record = {"dataset": dataset, "setting": label, "lambda": strength, "constrains": constrains(penalty),
                  "penalty": description, "seeds": len(runs),
                  "diverged": sum(r.diverged for r in runs), "collapsed": sum(r.collapsed for r in runs),
                  "wasserstein_mean": wasserstein[0] if wasserstein else None,
                  "wasserstein_std": wasserstein[1] if wasserstein else None,
                  "seconds_per_1k_iterations": cost[0] if cost else None,
                  "engine": ", ".join(sorted({r.engine for r in runs})), "rehearsal": marks_of(runs)}
        cells = [label, f"{strength:g}" if isinstance(strength, float) else str(strength), record["constrains"],
                 description, f"{len(usable)}/{len(runs)}"]          # the run's one name, as in the CSV and plots
        for metric in metrics:
            summary = summarise([r.metric(metric) for r in usable])
            cells.append(format_summary(summary, 4 if metric != "modes" else 3))
            record[f"{metric}_mean"] = summary[0] if summary else None
            record[f"{metric}_std"] = summary[1] if summary else None
        record["health"] = health_cell(runs)
        cells += [format_summary(wasserstein), stability_text(runs).removeprefix("diverged ").replace("none diverged", "0"),
                  f"{cost[0]:.1f} ({record['engine']})" if cost else "—", record["health"]]
        block.rows.append(cells)
        records.append(record)
    for dataset, block in blocks.items():
        runs = [r for r in results if r.dataset == dataset]
        block.notes = flex_comparisons(block, group_runs(runs), [r for r in records if r["dataset"] == dataset],
                                       dataset) + [data_note(runs)]
    return list(blocks.values()), records


CONTROL_KIND = "none"        # the penalty sweep's control: the base method without a penalty


def flex_comparisons(block: Block, groups: dict, records: list[dict], dataset: str) -> list[str]:
    """Rank every setting on the dataset's primary metric and compare each with the no-penalty control and with the
    base method's own penalty at its preset (plain WGAN-GP): Welch 95 % interval of the difference of seed means,
    p Holm-adjusted over the settings of each column; three columns added to ``block`` and the verdicts to
    ``records``; returns the notes that say so."""
    primary = get_dataset(dataset).primary_metric
    runs_of = {label: runs for (_, label), runs in groups.items()}
    labels = [record["setting"] for record in records]
    control = next((label for label in labels if runs_of[label][0].penalty.settings()["kind"] == CONTROL_KIND), None)
    reference = next((label for label in labels if _is_preset_penalty(runs_of[label][0])), None)
    summaries = {label: _summary(runs_of[label], primary) for label in labels}
    order = sorted((label for label in labels if summaries[label]),
                   key=lambda label: summaries[label][0] * (1 if primary in LOWER_IS_BETTER else -1))
    columns = {}
    for name, against in (("control", control), ("wgan-gp", reference)):
        compared = {label: separation(summaries[label], summaries[against])
                    for label in labels if against and label != against}
        holm([comparison for _, comparison in compared.values() if comparison])
        columns[name] = {label: (verdict(comparison, primary) + ": " + comparison.cell() if comparison else reason)
                         for label, (reason, comparison) in compared.items()}
    header = [f"rank ({RESULT_LABELS[primary]})", f"vs {control or 'control'}", f"vs {reference or 'plain WGAN-GP'}"]
    after_seeds = block.header.index("seeds") + 1
    block.header[after_seeds:after_seeds] = header
    for row, record, label in zip(block.rows, records, labels):
        rank = order.index(label) + 1 if label in order else None
        cells = [str(rank) if rank else "—", columns["control"].get(label, "control"),
                 columns["wgan-gp"].get(label, "reference")]
        row[after_seeds:after_seeds] = cells
        record.update({"rank": rank, "vs_control": cells[1], "vs_reference": cells[2]})
    return [f"Primary metric: {RESULT_LABELS[primary]} (the settings are ranked on it, 1 best, and compared on it "
            "only; the other columns are exploratory). Each setting is compared with the no-penalty control "
            f"({control or 'none in this sweep'}) and with the base method's penalty at its preset λ "
            f"({reference or 'none in this sweep'}): the difference of seed means, its Welch 95 % interval, "
            f"and the p value Holm-adjusted over the settings of that column; \"better\"/\"worse\" where that p is "
            f"below {SIGNIFICANCE:g}. Where every seed of both settings scored the same the exact rank test replaces "
            "Welch's."]


def _is_preset_penalty(run: RunResult) -> bool:
    """Whether the run's penalty is its method's preset penalty at the preset λ (the sweep's plain WGAN-GP row)."""
    wanted = preset(run.config["arch"], run.config["method"]).get("penalty") or {}
    settings = run.penalty.settings()
    return settings.get("kind") == wanted.get("kind") and settings.get("lambda") == wanted.get("lambda")


def constrains(penalty) -> str:
    """Which player's training the penalty acts on: a penalty only on g_loss (HyperGAN's default) leaves the
    critic unconstrained."""
    if penalty.on_critic_loss and penalty.on_generator_loss:
        return "critic and generator"
    if penalty.on_critic_loss:
        return "critic"
    if penalty.on_generator_loss:
        return "generator only (critic unconstrained)"
    return "nothing (no penalty)"


def health(results: list[RunResult]) -> tuple[list[Block], list[dict]]:
    """One row per run: its worst verdict from `gpbench diagnose`, which check, and the evidence."""
    blocks: dict[str, Block] = {}
    records = []
    for (dataset, label), runs in group_runs(results).items():
        block = blocks.setdefault(dataset, Block(dataset, ["run", "verdict", "check", "evidence"], []))
        for run in runs:
            report = RunDir(run.path).read_diagnosis() or {"verdict": "—", "worst_check": None, "checks": []}
            flagged = [check for check in report["checks"] if check["verdict"] == report["verdict"]]
            check = flagged[0] if report["worst_check"] and flagged else None
            record = {"dataset": dataset, "run": f"{label}/seed{run.config['seed']}", "verdict": report["verdict"],
                      "check": check["name"] if check else "", "evidence": check["evidence"] if check else "",
                      "advice": check["advice"] if check else ""}
            records.append(record)
            block.rows.append([record["run"], record["verdict"], record["check"] or "—", record["evidence"] or "—"])
    return list(blocks.values()), records


# --- rendering ------------------------------------------------------------------------------------------

def to_markdown(blocks: list[Block], title: str, caption: str) -> str:
    lines = [f"# {title}", ""] + ([caption, ""] if caption else [])
    for block in blocks:
        widths = [max(len(str(cell)) for cell in column) for column in zip(block.header, *block.rows)]
        lines += [f"## {block.title}", "",
                  "| " + " | ".join(h.ljust(w) for h, w in zip(block.header, widths)) + " |",
                  "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        lines += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in block.rows]
        lines.append("")
        lines += [note for line in block.notes for note in (line, "")]
    return "\n".join(lines)


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "±": r"$\pm$", "Δ": r"$\Delta$", "—": "--",
                  "[": "{[}", "]": "{]}", "^": r"\^{}", "~": r"\~{}"}


def _latex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(character, character) for character in str(text))


def to_latex(blocks: list[Block], caption: str) -> str:
    parts = []
    for block in blocks:
        parts += [r"\begin{table}[t]", r"\centering", r"\small",
                  rf"\caption{{{_latex(block.title)}{': ' + _latex(caption) if caption else ''}}}",
                  r"\begin{tabular}{" + "l" * len(block.header) + "}", r"\toprule",
                  " & ".join(_latex(h) for h in block.header) + r" \\", r"\midrule"]
        parts += [" & ".join(_latex(c) for c in row) + r" \\" for row in block.rows]
        parts += [r"\bottomrule", r"\end{tabular}"]
        parts += [r"\par\smallskip\footnotesize " + _latex(note) for note in block.notes]
        parts += [r"\end{table}", ""]
    return "\n".join(parts)


def to_html(blocks: list[Block], title: str, caption: str) -> str:
    """A self-contained HTML page of the tables (what the Snakemake report shows inline)."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"] + ([f"<p class='caption'>{html.escape(caption)}</p>"] if caption else [])
    for block in blocks:
        parts += [f"<h2>{html.escape(block.title)}</h2><table><thead><tr>"
                  + "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header) + "</tr></thead><tbody>"]
        parts += ["<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in block.rows]
        parts += ["</tbody></table>"] + [f"<p class='note'>{html.escape(note)}</p>" for note in block.notes]
    return "\n".join(parts + ["</body></html>"]) + "\n"


HTML_STYLE = ("body{font-family:sans-serif;font-size:13px;margin:1em}table{border-collapse:collapse;margin:.5em 0}"
              "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
              "th{background:#f2f2f2}.caption,.note{color:#333;max-width:70em}")
TABLES = {"replication": replication, "flex": flex, "health": health, "architectures": figure2_table,
          "random_architectures": table1_table}
TITLES = {"replication": "Replication: Gulrajani et al. 2017", "flex": "Gradient-penalty variants (flex sweep)",
          "health": "Run health (gpbench diagnose)",
          "architectures": "Robustness across architectures: Gulrajani et al. 2017, Figure 2",
          "random_architectures": "Random architectures: Gulrajani et al. 2017, Table 1"}
PER_RUN_SUFFIX = "_runs.csv"      # beside replication.csv and flex.csv: one row per run, what the means are made of


def run_records(results: list[RunResult]) -> list[dict]:
    """One record per run: its seed, status, whether its numbers count (and why not), its final metrics."""
    records = []
    for (dataset, label), runs in group_runs(results).items():
        for run in runs:
            counted = "yes" if run.counted else f"no: {run.why_not_counted}"
            final = run.final or {}
            records.append({"dataset": dataset, "method": label, "seed": run.config["seed"],
                            "status": run.status.get("status"), "iteration": final.get("iteration"),
                            "counted": counted, "elapsed_seconds": final.get("elapsed_seconds"),
                            "samples": (final.get("protocol") or {}).get("samples"),
                            **{metric: run.metric(metric) for metric in (final.get("metrics") or {})}})
    return records


def _write_csv(path: Path, records: list[dict]) -> None:
    write_csv_atomic(path, list(dict.fromkeys(key for record in records for key in record)) or ["dataset"], records)


def write_tables(kind: str, run_dirs: list[str], out_stem: str | Path, caption: str) -> list[Path]:
    """Write ``out_stem``.md/.csv/.tex/.html for ``kind`` in TABLES (and, but for health, the per-run rows in
    ``out_stem``_runs.csv); returns the paths."""
    results = [RunResult.read(path) for path in run_dirs]
    blocks, records = TABLES[kind](results)
    title = TITLES[kind]
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_stem.with_suffix(suffix) for suffix in (".md", ".csv", ".tex", ".html")]
    write_text_atomic(paths[0], to_markdown(blocks, title, caption))
    write_text_atomic(paths[3], to_html(blocks, title, caption))
    _write_csv(paths[1], records)
    write_text_atomic(paths[2], to_latex(blocks, caption))
    if kind != "health":
        paths.append(out_stem.parent / f"{out_stem.name}{PER_RUN_SUFFIX}")
        _write_csv(paths[-1], run_records(results))
    return paths
