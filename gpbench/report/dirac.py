"""The Dirac-GAN certificate written out (gpbench.experiments.dirac): one table (Markdown, CSV) with a row per
game x penalty setting, and a figure in the paper's style: the gradient vector field with the simultaneous and
alternating trajectories, one panel per setting, for one game."""

from __future__ import annotations

from pathlib import Path

from gpbench.plotting import plt
from gpbench.experiments.dirac import SETTINGS, START, STEP, STEPS, vector_field_grid
from gpbench.fileio import write_csv_atomic, write_text_atomic
from gpbench.report.plots import save_figure
from gpbench.report.results import Block
from gpbench.report.tables import to_html, to_markdown

TITLE = "Dirac-GAN convergence certificate (Mescheder et al. 2018)"
FIGURE_GAME = "ns"          # the figure's game: the paper's figures show the standard GAN
COLUMNS = ("game", "penalty", "eigenvalues", "max_real_part", "simultaneous", "simultaneous_distance",
           "alternating", "alternating_distance", "published", "source")


def certificate_blocks(rows: list[dict]) -> list[Block]:
    """One block per game: each setting's eigenvalues, both verdicts with the final distance, the published or
    analytic value."""
    blocks = []
    for game in dict.fromkeys(row["game"] for row in rows):
        block = Block(f"game: {game}", ["penalty", "Jacobian eigenvalues at the equilibrium",
                                        "simultaneous GD (final distance)", "alternating GD (final distance)",
                                        "published / analytic"], [])
        for row in (r for r in rows if r["game"] == game):
            block.rows.append([row["penalty"], row["eigenvalues_text"],
                               f"{row['simultaneous']} ({row['simultaneous_distance']:.2g})",
                               f"{row['alternating']} ({row['alternating_distance']:.2g})",
                               f"{row['published']} [{row['source']}]" if row["published"] else "—"])
        blocks.append(block)
    return blocks


def caption() -> str:
    start = f"({START[0]:g}, {START[1]:g})"
    return (f"Real data a Dirac at 0, generator a Dirac at θ, critic D(x) = ψx; equilibrium θ = ψ = 0. The losses "
            "and penalties are gpbench's own (GanLoss, build_penalty) on this generator and critic; the vector "
            "field is their autograd gradients, its Jacobian at the equilibrium central differences of it in "
            f"float64. Trajectories: {STEPS} steps of {STEP:g} from (θ, ψ) = {start}, simultaneous and "
            "alternating (generator first). Verdicts: converges (the distance to the equilibrium falls below 1e-3 "
            "of its start, or its peak halves from the second to the last quarter), diverges (it grows past the "
            "start and keeps growing), stalls (it stops at a stationary point off the equilibrium), cycles "
            "(neither). Local behaviour at the equilibrium, not sample quality. λ is gpbench's: R1/R2 are "
            "(λ/2)·mean ||∇D||², the paper's γ = λ.")


def write_certificate(rows: list[dict], out_dir: str | Path) -> list[Path]:
    """dirac.md, dirac.html, dirac.csv and dirac.png in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown, page = out_dir / "dirac.md", out_dir / "dirac.html"
    write_text_atomic(markdown, to_markdown(certificate_blocks(rows), TITLE, caption()))
    write_text_atomic(page, to_html(certificate_blocks(rows), TITLE, caption()))
    table = out_dir / "dirac.csv"
    write_csv_atomic(table, list(COLUMNS), [{**row, "eigenvalues": row["eigenvalues_text"]} for row in rows])
    return [markdown, page, table, plot_certificate(rows, out_dir / "dirac.png")]


def plot_certificate(rows: list[dict], path: Path, game: str = FIGURE_GAME) -> Path:
    """The vector field of ``game`` under each setting with both trajectories, one panel per setting."""
    shown = [row for row in rows if row["game"] == game] or rows[:len(SETTINGS)]
    columns = 4
    lines = -(-len(shown) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(3.4 * columns, 3.3 * lines), dpi=100, squeeze=False)
    for panel, row in zip(axes.flat, shown):
        theta, psi, v_theta, v_psi = vector_field_grid(row["game"], row["penalty"], extent=0.6, points=11)
        panel.quiver(theta, psi, v_theta, v_psi, color="0.6", angles="xy", width=0.004)
        simultaneous, alternating = row["paths"]
        panel.plot(*simultaneous.T, color="tab:red", lw=1, label=f"simultaneous: {row['simultaneous']}")
        panel.plot(*alternating.T, color="tab:blue", lw=1, label=f"alternating: {row['alternating']}")
        panel.plot(*START, "ko", ms=3)
        panel.plot(0, 0, "k*", ms=8)
        panel.set_xlim(-0.6, 0.6)
        panel.set_ylim(-0.6, 0.6)
        panel.set_title(row["penalty"], fontsize=9)
        panel.set_xlabel("θ (generator)", fontsize=8)
        panel.set_ylabel("ψ (critic)", fontsize=8)
        panel.legend(fontsize=6, loc="lower left")
    for panel in axes.flat[len(shown):]:
        panel.axis("off")
    return save_figure(figure, path, f"Dirac-GAN, {game} game: gradient field, simultaneous and alternating "
                                     f"gradient descent (step {STEP:g}, {STEPS} steps); * the equilibrium")
