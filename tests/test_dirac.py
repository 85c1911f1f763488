"""The Dirac-GAN certificate: gpbench's own games and penalties on the one-parameter generator and critic give the
paper's eigenvalues at the equilibrium (to 1e-6) and its verdicts; a kink at the equilibrium is said, not
differentiated; the verb writes its table and figure and refuses an unknown game in one line."""

import csv

import numpy as np
import pytest
import torch

from gpbench.cli import main
from gpbench.experiments.dirac import (DiracGame, certify, regularised_eigenvalues, verdict)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sorted_eigenvalues(values):
    return sorted(np.asarray(values, dtype=complex), key=lambda value: (value.real, value.imag))


@pytest.mark.parametrize("game, slope", [("ns", 0.5), ("mm", 0.5), ("wgan", 1.0), ("rp", 0.5)])
def test_the_unregularised_games_rotate_at_their_slope_and_do_not_converge(game, slope):
    """Eigenvalues ±i f'(0) (Mescheder et al. 2018, Sec. 2.2): simultaneous GD spirals out, alternating cycles."""
    row = certify(game, "none")
    assert sorted_eigenvalues(row["eigenvalues"]) == pytest.approx([-1j * slope, 1j * slope], abs=1e-6)
    assert row["simultaneous"] == "diverges" and row["alternating"] == "cycles"
    assert row["field_at_equilibrium"] == 0.0


@pytest.mark.parametrize("game, slope", [("ns", 0.5), ("mm", 0.5), ("wgan", 1.0)])
@pytest.mark.parametrize("setting, strength", [("r1 λ=0.3", 0.3), ("r1 λ=1", 1.0), ("r2 λ=0.3", 0.3)])
def test_r1_and_r2_give_the_papers_eigenvalues_and_converge(game, slope, setting, strength):
    """-γ/2 ± sqrt(γ²/4 - f'(0)²) with gpbench's (λ/2)·mean||∇D||², λ = γ: -0.15 ± 0.477i at γ = 0.3 on the
    standard GAN (the notebook's default), critically damped (-0.5, -0.5) at γ = 1."""
    row = certify(game, setting)
    expected = regularised_eigenvalues(strength, slope)
    assert sorted_eigenvalues(row["eigenvalues"]) == pytest.approx(sorted_eigenvalues(expected), abs=1e-6)
    assert row["simultaneous"] == row["alternating"] == "converges"
    assert row["simultaneous_distance"] < 1e-2 and row["published"].endswith("; convergent")


@pytest.mark.parametrize("game", ["rp", "ns"])
def test_relativistic_pairing_with_r1_and_r2_converges(game):
    """Huang et al. 2024 (R3GAN): RpGAN + R1 + R2 is locally convergent; R1 and R2 together damp twice,
    -γ ± sqrt(γ² - f'(0)²) = -0.3 ± 0.4i at γ = 0.3."""
    row = certify(game, "r1+r2 λ=0.3")
    assert sorted_eigenvalues(row["eigenvalues"]) == pytest.approx([-0.3 - 0.4j, -0.3 + 0.4j], abs=1e-6)
    assert row["simultaneous"] == row["alternating"] == "converges"


def test_the_closed_forms_the_tests_compare_with():
    assert sorted_eigenvalues(regularised_eigenvalues(0.3, 0.5)) == pytest.approx(
        [-0.15 - 0.47697j, -0.15 + 0.47697j], abs=1e-5)
    assert sorted_eigenvalues(regularised_eigenvalues(1.0, 0.5)) == pytest.approx([-0.5, -0.5], abs=1e-9)


@pytest.mark.parametrize("game", ["ns", "wgan"])
@pytest.mark.parametrize("setting", ["clipping c=0.3", "wgan-gp λ=1"])
def test_clipping_and_wgan_gp_do_not_converge(game, setting):
    """Mescheder et al. 2018, Sec. 3: neither WGAN with clipping nor WGAN-GP converges on the Dirac-GAN."""
    row = certify(game, setting)
    assert "converges" not in (row["simultaneous"], row["alternating"])
    assert max(row["simultaneous_distance"], row["alternating_distance"]) > 0.1


def test_a_target_norm_penalty_has_a_kink_at_the_equilibrium_and_gets_no_eigenvalues():
    """λ(|∇D| - 1)² on D = ψx has slope ∓2λ on either side of ψ = 0: finite differences grow as the step shrinks,
    so the row says the field is not differentiable there instead of printing a meaningless eigenvalue."""
    dirac = DiracGame("wgan", {"kind": "wgan-gp", "lambda": 1.0})
    assert dirac.smooth_jacobian(0) is None
    row = certify("wgan", "wgan-gp λ=1")
    assert row["eigenvalues"] is None and "not differentiable" in row["eigenvalues_text"]
    smooth = DiracGame("wgan", {"kind": "r1", "lambda": 1.0}).smooth_jacobian(0)
    assert smooth == pytest.approx(np.array([[0.0, 1.0], [-1.0, -1.0]]), abs=1e-6)


def test_the_field_is_gpbench_training_gradient():
    """At (θ, ψ) = (0.5, -0.4) under WGAN with R1 λ: v = (-dL_G/dθ, -dL_D/dψ) = (ψ, -θ - λψ) (L_D = ψθ + λψ²/2)."""
    field = DiracGame("wgan", {"kind": "r1", "lambda": 2.0}).field(0.5, -0.4, 0)
    assert field == pytest.approx([-0.4, -0.5 + 0.8], abs=1e-12)


def test_verdicts_from_distances():
    turns = np.linspace(0, 40, 401)
    circle = np.stack([np.cos(turns), np.sin(turns)], axis=1)
    assert verdict(circle) == "cycles"
    assert verdict(circle * np.exp(-0.2 * turns)[:, None]) == "converges"
    assert verdict(circle * np.exp(0.05 * turns)[:, None]) == "diverges"
    assert verdict(np.vstack([circle[:100], np.repeat(circle[100:101] * 0.5, 301, axis=0)])) == "stalls"
    assert verdict(np.vstack([circle[:100], np.full((301, 2), np.nan)])) == "diverges"


def test_the_verb_writes_the_table_and_figure_and_refuses_an_unknown_game(tmp_path, capsys):
    assert main(["dirac", "--games", "wgan", "--penalties", "none", "r1 λ=1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| none " in printed and "diverges" in printed and "converges" in printed
    with open(tmp_path / "dirac.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["game"], row["penalty"], row["simultaneous"]) for row in rows] == [
        ("wgan", "none", "diverges"), ("wgan", "r1 λ=1", "converges")]
    assert (tmp_path / "dirac.png").stat().st_size > 20_000 and "Mescheder" in (tmp_path / "dirac.md").read_text()
    assert main(["dirac", "--games", "hinge"]) == 2
    assert capsys.readouterr().err.strip() == ("gpbench dirac: error: --games: 'hinge' is not allowed; allowed: mm, "
                                               "ns, wgan, ls, rp")
