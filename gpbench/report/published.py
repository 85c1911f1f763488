"""Published numbers beside a table's rows (docs/published.md): the closest ones (gpbench.paper.published) for a
row's method x dataset x metric, and the protocol fields where the row's runs differ from each ("differs:")."""

from __future__ import annotations

from pathlib import Path

from gpbench.paper.published import NOT_STATED, PROTOCOL_FIELDS, load_published

SHOWN = 2                   # published numbers shown per cell: the closest protocols


def run_protocol(config: dict, metric: str, samples: int | None, seeds: int) -> dict:
    """A table row's protocol in published.yaml's fields, from its runs' config and evaluation."""
    inception = metric in ("is", "fid", "kid")
    return {"data": "same", "architecture": config["arch"], "dim": config.get("dim"),
            "iterations": config["iterations"], "batch_size": config["batch_size"], "n_critic": config["n_critic"],
            "optimizer": {"name": config["optimizer"], "lr": config["lr"], "betas": list(config["betas"]),
                          "decay": config.get("lr_decay", "none")},
            "samples": samples, "reference": "train" if metric in ("fid", "kid", "fid_lenet") else "none",
            "features": "Inception" if inception else ("LeNet" if metric.endswith("_lenet") else "none"),
            "aggregation": f"mean of {seeds} seed{'s' * (seeds != 1)}, last checkpoint"}


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}" if isinstance(value, float) else str(value)


def _optimizer_text(optimizer) -> str:
    if not isinstance(optimizer, dict):
        return str(optimizer)
    betas = optimizer["betas"]
    text = f"{optimizer['name']} {_number(optimizer['lr'])}"
    if isinstance(betas, list):
        text += f" β ({', '.join(_number(b) for b in betas)})"
    decay = optimizer["decay"]
    return text + (f", {decay} decay" if decay not in ("none", None) else "")


def differences(entry: dict, protocol: dict) -> list[str]:
    """The protocol fields where a run (``protocol``, from run_protocol) differs from a published entry, each as
    "field: theirs vs ours" (or "field: not stated" where the source does not say); the source's variant first."""
    found = [f"method: {entry['variant']}"] if entry.get("variant") else []
    for field in PROTOCOL_FIELDS:
        difference = _field_difference(field, entry["protocol"][field], protocol[field], protocol)
        if difference:
            found.append(difference)
    return found


def _field_difference(field: str, value, ours, protocol: dict) -> str | None:
    if value == NOT_STATED or (field == "optimizer" and isinstance(value, dict)
                               and NOT_STATED in (value["name"], value["lr"])):
        return f"{field}: {NOT_STATED}"
    if field == "data":
        return None if value == "same" else f"data: {value}"
    if (field == "reference" and ours == "none") or (field == "aggregation" and value == "analytic"):
        return None                  # a score of the samples alone (IS, modes) has no reference set to differ
    text = _optimizer_text if field == "optimizer" else _number
    theirs, mine = text(value), (text(ours) if ours is not None else "—")
    same = theirs.lower().startswith(mine.lower()) if field == "features" else theirs == mine
    dim = f" DIM {protocol['dim']}" if field == "architecture" and protocol.get("dim") else ""
    return None if same else f"{field}: {theirs} vs {mine}{dim}"


def closest(method: str, dataset: str, metric: str, protocol: dict, entries=None) -> list[tuple[dict, list[str]]]:
    """The published entries for method x dataset x metric, fewest differing protocol fields first, with them."""
    entries = load_published() if entries is None else entries
    matches = [(entry, differences(entry, protocol)) for entry in entries
               if (entry["method"], entry["dataset"], entry["metric"]) == (method, dataset, metric)]
    return sorted(matches, key=lambda match: len(match[1]))


def entry_text(entry: dict) -> str:
    value = entry["value"]
    return (_number(value) + (f" ± {_number(entry['spread'])}" if entry["spread"] is not None else "")
            + f" [{entry['source'].split(' (')[0]}]")


def published_cell(matches: list[tuple[dict, list[str]]], label: str) -> str:
    """The closest SHOWN published numbers of a row's metric ``label``, each with what differs; "—" for none."""
    shown = [f"{label} {entry_text(entry)} (differs: " + (", ".join(differs) or "nothing") + ")"
             for entry, differs in matches[:SHOWN]]
    more = len(matches) - SHOWN
    return "; ".join(shown) + (f"; {more} more in docs/published.md" if more > 0 else "") if shown else "—"


def _protocol_text(protocol: dict) -> str:
    return "; ".join(f"{field}: {_optimizer_text(protocol[field]) if field == 'optimizer' else _number(protocol[field])}"
                     for field in PROTOCOL_FIELDS)


def planned_rows(suite_file: str | Path, base: Path = Path(".")) -> list[tuple[str, str, str, list]]:
    """(dataset, row label, metric, closest published entries with their differences) for every replication row
    and table metric of a suite, from its planned run configs: the published numbers a run of it will stand
    beside."""
    from gpbench.data import get_dataset
    from gpbench.report.results import table_metrics
    from gpbench.suite.pipeline import load_suite, plan
    from gpbench.training.config import resolve

    suite = load_suite([suite_file])
    rows: dict[tuple[str, str], list] = {}
    for run in plan(suite, base=base):
        if run.group == "replication":
            rows.setdefault((run.dataset, run.label), []).append(resolve(run.config))
    found = []
    for (dataset, label), configs in rows.items():
        samples = (suite.get("eval") or {}).get("samples", {}).get(dataset) or get_dataset(dataset).eval_samples
        for metric in table_metrics(dataset):
            protocol = run_protocol(configs[0], metric, samples, len(configs))
            matches = closest(configs[0]["method"], dataset, metric, protocol)
            if matches:
                found.append((dataset, label, metric, matches))
    return found


def published_markdown(suite_file: str | Path, base: Path = Path(".")) -> str:
    """docs/published.md: every published entry with its source and protocol, then each replication row of
    ``suite_file`` beside its closest published numbers and the fields where the protocols differ."""
    lines = ["# Published numbers and their protocols", "",
             "Generated by `gpbench published` from `gpbench/paper/published.yaml`; do not edit by hand. Each number "
             "was read from the source named (a repository file at the commit given, or the paper's table); the "
             "protocol is the source's own, \"not stated\" where it does not say.", "",
             "| method | dataset | metric | value | spread over | source | protocol |", "|---|---|---|---|---|---|---|"]
    for entry in load_published():
        method = entry["method"] + (f" ({entry['variant']})" if entry.get("variant") else "")
        value = _number(entry["value"]) + (f" ± {_number(entry['spread'])}" if entry["spread"] is not None else "")
        lines.append(f"| {method} | {entry['dataset']} | {entry['metric']} | {value} | {entry['spread_over']} | "
                     f"{entry['source']} | {_protocol_text(entry['protocol'])} |")
    lines += ["", f"## `{Path(suite_file).as_posix()}`: each row beside its closest published numbers", "",
              "A row's protocol comes from its planned run configs (the presets, the suite's overrides, its "
              "evaluation sample count; the mean over its seeds at the last checkpoint). \"differs\" lists every "
              "field where the published protocol is another, or does not say.", "",
              "| dataset | row | metric | published | differs |", "|---|---|---|---|---|"]
    for dataset, label, metric, matches in planned_rows(suite_file, base):
        for entry, differs in matches:
            lines.append(f"| {dataset} | {label} | {metric} | {entry_text(entry)} | {', '.join(differs) or 'nothing'} |")
    return "\n".join(lines) + "\n"
