"""The robustness tables (Gulrajani et al. 2017, section 5): Figure 2 (each architecture under each method, one
preset per method) and Table 1 (random architectures: how many pass each Inception-score threshold with only the
standard GAN, only WGAN-GP, both, or neither), with the claims each supports judged on the numbers."""

from __future__ import annotations

from gpbench.training.config import REPORTED_TABLE1
from gpbench.data import get_dataset
from gpbench.metrics import RESULT_LABELS
from gpbench.models.random_architectures import draw_record
from gpbench.report.health import health_cell
from gpbench.report.results import (Block, data_note, format_summary, real_data_notes, stability_text,
                                    summarise)
from gpbench.analysis.runresult import RunResult, marks_of

TABLE1_THRESHOLDS = tuple(REPORTED_TABLE1)
TABLE1_PAIR = ("ns-gan", "wgan-gp")          # Table 1's "GAN" and "WGAN-GP" columns
# Figure 2's "trains": every seed counted (no divergence, collapse or interruption) with a mean score of at least
# this Inception score (LeNet IS on MNIST-like data: 1 to 10 over 10 classes, as Inception's on CIFAR-10)
TRAINED_SCORE = 3.0
TABLE1_OUTCOMES = ("only GAN", "only WGAN-GP", "both", "neither")


def score_metric(dataset: str) -> str:
    """The Inception-score metric a robustness table ranks by: IS, or IS (LeNet) on MNIST-like data."""
    return "is_lenet" if "is_lenet" in get_dataset(dataset).default_metrics else "is"


def architecture_score(runs: list[RunResult], metric: str) -> float:
    """The mean score over an architecture's seeds, a diverged or unfinished run scoring 0 (it made no samples)
    and a collapsed one what it scored (about 1)."""
    scores = [0.0 if run.diverged or run.unfinished or not run.final else (run.metric(metric) or 0.0) for run in runs]
    return sum(scores) / len(scores)


def trained(runs: list[RunResult], metric: str) -> bool:
    return all(run.counted for run in runs) and architecture_score(runs, metric) >= TRAINED_SCORE


def _by(results: list[RunResult], *keys) -> dict[tuple, list[RunResult]]:
    groups: dict[tuple, list[RunResult]] = {}
    for run in sorted(results, key=lambda r: (r.dataset, *(str(r.config[key]) for key in keys), r.config["seed"])):
        groups.setdefault((run.dataset, *(_plain(run.config[key]) for key in keys)), []).append(run)
    return groups


def _per_dataset(results: list[RunResult]):
    """(dataset, its runs, the score metric it is ranked by), dataset by dataset."""
    for dataset in sorted({run.dataset for run in results}):
        yield dataset, [run for run in results if run.dataset == dataset], score_metric(dataset)


def _plain(value):
    return value["index"] if isinstance(value, dict) else value


def figure2_table(results: list[RunResult]):
    """Block per dataset: one row per Figure 2 architecture, one column per method (score mean +- std over the
    seeds that count, seeds counted / run, what failed), and the claim "only WGAN-GP trains every architecture"."""
    blocks, all_records = [], []
    for dataset, runs, metric in _per_dataset(results):
        records, rows = _figure2_records(runs, metric)
        methods = list(dict.fromkeys(record["method"] for record in records))
        block = Block(f"{dataset}{marks_of(runs)}", ["architecture", *methods, "health"], [])
        for row in rows:
            cells = [row]
            for record in (r for r in records if r["architecture"] == row):
                summary = (record["mean"], record["std"], record["seeds_used"]) if record["seeds_used"] else None
                cells.append(format_summary(summary)
                             + f" ({record['counted']}/{record['seeds']})"
                             + ("" if record["stability"] == "none diverged" else f"; {record['stability']}"))
            cells.append(health_cell([run for run in runs if run.config["figure2_row"] == row]))
            block.rows.append(cells)
        block.notes = [f"Cells: {RESULT_LABELS[metric]} mean ± std over the seeds that count (one seed: its value; "
                       "counted/run). "
                       f"\"Trains\": every seed counted and a mean {RESULT_LABELS[metric]} of at least "
                       f"{TRAINED_SCORE:g}.", data_note(runs), *real_data_notes(runs),
                       claim_note(figure2_claim(records, rows, dataset))]
        blocks.append(block)
        all_records += records
    return blocks, all_records


def _figure2_records(runs: list[RunResult], metric: str) -> tuple[list[dict], list[str]]:
    """One record per (architecture, method) of one dataset's runs, architectures in run order; and that order."""
    dataset = runs[0].dataset
    methods = list(dict.fromkeys(run.config["method"] for run in runs))
    rows = list(dict.fromkeys(run.config["figure2_row"] for run in runs))
    groups = _by(runs, "figure2_row", "method")
    records = []
    for row in rows:
        for method in methods:
            group = groups.get((dataset, row, method), [])
            summary = summarise([run.metric(metric) for run in group if run.counted])
            records.append({"dataset": dataset, "architecture": row, "method": method, "metric": metric,
                            "mean": summary[0] if summary else None, "std": summary[1] if summary else None,
                            "seeds_used": summary[2] if summary else 0, "seeds": len(group),
                            "counted": sum(run.counted for run in group), "trained": trained(group, metric),
                            "stability": stability_text(group), "rehearsal": marks_of(group)})
    return records, rows


def figure2_claim(records: list[dict], rows: list[str], dataset: str) -> dict:
    """The paper's Figure 2 caption, judged: WGAN-GP trains every architecture and no other method does."""
    trained_rows = {method: [r["architecture"] for r in records if r["method"] == method and r["trained"]]
                    for method in dict.fromkeys(r["method"] for r in records)}
    counts = ", ".join(f"{method} {len(done)}/{len(rows)}" for method, done in trained_rows.items())
    gp_all = len(trained_rows.get("wgan-gp", [])) == len(rows)
    others_all = [method for method, done in trained_rows.items() if method != "wgan-gp" and len(done) == len(rows)]
    missing = sorted(set(rows) - set(trained_rows.get("wgan-gp", [])))
    why = (f"; WGAN-GP did not train {', '.join(missing)}" if missing else "") + (
        f"; {', '.join(others_all)} also trained every one" if others_all else "")
    return {"claim": f"Only WGAN-GP trains every Figure 2 architecture ({dataset})",
            "measured": f"architectures trained: {counts}{why}",
            "reproduced": "yes" if gp_all and not others_all else "NO"}


def claim_note(row: dict) -> str:
    """A claims-table row as a table note: "Claim: ...: YES|NO (measured)"."""
    return f"Claim \"{row['claim']}\": {row['reproduced'].upper()} ({row['measured']})."


def architecture_claims(results: list[RunResult]) -> list[dict]:
    """The claims-table rows of the robustness experiments: Figure 2's and Table 1's claim per dataset."""
    figure2 = [run for run in results if run.config.get("figure2_row")]
    table1 = [run for run in results if run.config.get("random_architecture")]
    return ([figure2_claim(*_figure2_records(runs, metric), dataset) for dataset, runs, metric in _per_dataset(figure2)]
            + [table1_claim(table1_counts(_table1_scores(runs, metric)[0]), dataset)
               for dataset, runs, metric in _per_dataset(table1)])


def table1_counts(scores: dict[int, dict[str, float]], thresholds=TABLE1_THRESHOLDS) -> dict[float, dict[str, int]]:
    """Per threshold, how many architectures pass it with only the GAN, only WGAN-GP, both, neither (each row
    sums to the number of architectures). ``scores``: architecture -> method -> score."""
    gan, gp = TABLE1_PAIR
    counts = {}
    for threshold in thresholds:
        row = dict.fromkeys(TABLE1_OUTCOMES, 0)
        for by_method in scores.values():
            passed = (by_method.get(gan, 0.0) > threshold, by_method.get(gp, 0.0) > threshold)
            row[{(True, False): "only GAN", (False, True): "only WGAN-GP", (True, True): "both",
                 (False, False): "neither"}[passed]] += 1
        counts[threshold] = row
    return counts


def table1_table(results: list[RunResult]):
    """Block per dataset: the threshold table beside the paper's counts, and the claim "WGAN-GP succeeds on more
    random architectures at every threshold"; the per-architecture scores go to the records."""
    blocks, records = [], []
    for dataset, runs, metric in _per_dataset(results):
        scores, score_records = _table1_scores(runs, metric)
        records += score_records
        counts = table1_counts(scores)
        block = Block(f"{dataset}{marks_of(runs)}", [f"min. {RESULT_LABELS[metric]}", *TABLE1_OUTCOMES,
                                                   "paper (only GAN / only WGAN-GP / both / neither, of 200)"], [])
        for threshold, row in counts.items():
            block.rows.append([f"{threshold:g}", *[str(row[outcome]) for outcome in TABLE1_OUTCOMES],
                               " / ".join(str(n) for n in REPORTED_TABLE1[threshold])])
            records.append({"dataset": dataset, "threshold": threshold, **row, "architectures": len(scores)})
        block.notes = [f"{len(scores)} random architecture{'s' * (len(scores) != 1)}, each trained with {TABLE1_PAIR[0]} and {TABLE1_PAIR[1]}; "
                       f"an architecture passes a threshold when its mean {RESULT_LABELS[metric]} over seeds exceeds "
                       "it (a diverged or unfinished run scores 0). The paper's counts are for the Inception score on "
                       "32x32 ImageNet.", data_note(runs), *real_data_notes(runs),
                       claim_note(table1_claim(counts, dataset))]
        blocks += [block, draws_block(dataset, score_records, metric)]
    return blocks, records


def _table1_scores(runs: list[RunResult], metric: str) -> tuple[dict[int, dict[str, float]], list[dict]]:
    """Architecture -> method -> score over one dataset's runs, and a record per (architecture, method)."""
    scores: dict[int, dict[str, float]] = {}
    records = []
    for (dataset, index, method), group in _by(runs, "random_architecture", "method").items():
        scores.setdefault(index, {})[method] = architecture_score(group, metric)
        records.append({"dataset": dataset, "architecture": index, "method": method, "metric": metric,
                        "score": scores[index][method], "seeds": len(group),
                        "counted": sum(run.counted for run in group), "rehearsal": marks_of(group),
                        **drawn_settings(group[0])})
    return scores, records


def drawn_settings(run: RunResult) -> dict:
    """The run's drawn architecture as a row of the table of draws (g_* generator, c_* critic settings)."""
    drawn = run.config["random_architecture"]
    return draw_record(drawn["seed"], drawn["index"], drawn["space"])


def describe_net(settings: dict, net: str) -> str:
    """One net (g or c) of a draw record in words: "tanh, 8 layers, 16 filters, normalised"."""
    return (f"{settings[f'{net}_nonlinearity']}, {settings[f'{net}_depth']} layers, {settings[f'{net}_filters']} "
            f"filters" + (", normalised" if settings[f"{net}_batchnorm"] else ""))


def draws_block(dataset: str, score_records: list[dict], metric: str) -> Block:
    """Every architecture of the sweep: what was drawn for G and D, and its score under each method (from the
    per-(architecture, method) records of _table1_scores, which carry the draw)."""
    drawn = {record["architecture"]: record for record in score_records}
    scores = {(record["architecture"], record["method"]): record["score"] for record in score_records}
    block = Block(f"{dataset}: the {len(drawn)} architectures drawn", ["architecture", "generator", "critic",
                                                                      *[f"{RESULT_LABELS[metric]} {method}"
                                                                        for method in TABLE1_PAIR]], [])
    for index in sorted(drawn):
        block.rows.append([str(index), describe_net(drawn[index], "g"), describe_net(drawn[index], "c"),
                           *[f"{scores[index, method]:.3g}" if (index, method) in scores else "—"
                             for method in TABLE1_PAIR]])
    block.notes = ["Normalised: batchnorm in the generator; in the critic batchnorm under NS-GAN and layernorm under "
                   "WGAN-GP, as the paper's Table 4. A diverged or unfinished run scores 0."]
    return block


def table1_claim(counts: dict[float, dict[str, int]], dataset: str) -> dict:
    """WGAN-GP succeeds on more architectures than the GAN at every threshold some architecture passes."""
    contested = {t: row for t, row in counts.items() if row["neither"] < sum(row.values())}
    more = {t: row["only WGAN-GP"] > row["only GAN"] for t, row in contested.items()}
    detail = "; ".join(f"{t:g}: WGAN-GP {row['only WGAN-GP'] + row['both']} vs GAN {row['only GAN'] + row['both']}"
                       for t, row in counts.items())
    architectures = sum(next(iter(counts.values())).values()) if counts else 0
    return {"claim": f"WGAN-GP succeeds on more random architectures at every threshold ({dataset}, "
                     f"{architectures} architectures)",
            "measured": f"architectures passing each threshold, {detail}"
                        + ("; no architecture passed any threshold" if not contested else ""),
            "reproduced": "yes" if contested and all(more.values()) else "NO"}
