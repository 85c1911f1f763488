"""The claims table: each claim of Gulrajani et al. Figures 1, 2 and 4, Table 1 and the toy GANs with the measured
number and whether it reproduced; a claim that did not reproduce stays in the table as NO."""

from __future__ import annotations

import json
from pathlib import Path

from gpbench.experiments.figure1 import claims as figure1_claims
from gpbench.experiments.figure4 import figure4_claims
from gpbench.report.architectures import architecture_claims
from gpbench.report.results import Block
from gpbench.report.tables import to_html, to_markdown
from gpbench.errors import DataError
from gpbench.fileio import write_csv_atomic, write_text_atomic
from gpbench.analysis.runresult import RunResult

COLUMNS = ["claim", "measured", "reproduced"]


def read_json(path: str | Path, what: str) -> dict:
    """A JSON file the claims read, or one line naming it and what it should be."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path} is not readable JSON ({type(error).__name__}); expected {what}") from None


def write_claims_table(out_stem: str | Path, caption: str, figure1_results: str | None = None,
                       gan_evals: list[str] = (), figure4_runs: list[str] = (),
                       architecture_runs: list[str] = ()) -> Path:
    """claims.md, claims.csv and claims.html from figure1.json, the toy GANs' eval.json, the Figure 4 run
    directories and the Figure 2 / Table 1 run directories (evaluated)."""
    rows = []
    notes = []
    if figure1_results:
        results = read_json(figure1_results, "--figure1: the figure1.json `gpbench figure1 run` writes")
        rows += figure1_claims(results, [read_json(path, "an eval.json `gpbench eval` writes") for path in gan_evals])
        notes.append("Figure 1 settings: " + ", ".join(f"{k}={v}" for k, v in results["settings"].items())
                     + ". Plots: figure1_value_surfaces.png, figure1_gradient_norms.png, figure1_weights.png.")
    if figure4_runs:
        rows += figure4_claims([RunResult.read(path) for path in figure4_runs])
        notes.append("Figure 4 plot: figure4_overfitting.png.")
    if architecture_runs:
        results = [RunResult.read(path) for path in architecture_runs]
        rows += architecture_claims(results)
        if any(result.config.get("figure2_row") for result in results):      # as architecture_claims tells them
            notes.append("Figure 2: table architectures.md, plot figure2_grid_<dataset>.png.")
        if any(result.config.get("random_architecture") for result in results):
            notes.append("Table 1: table random_architectures.md.")
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    block = Block("Claims", COLUMNS, [[row[column] for column in COLUMNS] for row in rows])
    text = " ".join(filter(None, [caption.rstrip().rstrip(".") + "." if caption.strip() else "", *notes]))
    title = "Gulrajani et al. 2017: claims and what this replication measured"
    markdown = out_stem.with_suffix(".md")
    write_text_atomic(markdown, to_markdown([block], title, text))
    write_text_atomic(out_stem.with_suffix(".html"), to_html([block], title, text))
    write_csv_atomic(out_stem.with_suffix(".csv"), list(COLUMNS), rows)
    return markdown
