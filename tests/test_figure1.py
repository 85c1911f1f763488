"""Figure 1 experiments on tiny settings, and the claims table's logic on constructed numbers."""

import json

import numpy as np
import pytest

from gpbench import ConfigError
from gpbench.figure1 import claims, run_experiments, settings_from, write_claims_table

TINY = {"critic_steps": 20, "width": 16, "deep_steps": 10, "deep_width": 16, "average_last": 3, "batch_size": 32}


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("figure1")
    return run_experiments(settings_from(TINY), root, root / "plots", progress=False), root


def test_experiments_write_plots_and_one_norm_per_layer(tiny_results):
    results, root = tiny_results
    for name in ("value_surfaces", "gradient_norms", "weights"):
        assert (root / "plots" / f"figure1_{name}.png").stat().st_size > 5000
    assert set(results["layer_gradient_norms"]) == {"clip c=0.1", "clip c=0.01", "clip c=0.001", "gradient penalty"}
    for norms in results["layer_gradient_norms"].values():
        assert len(norms) == 13 and all(np.isfinite(norms))        # 12 ReLU layers + output
    assert set(results["surfaces"]) == {f"{d}/{m}" for d in ("8gaussians", "25gaussians", "swissroll")
                                        for m in ("wgan-clip", "wgan-gp")}
    clipped = results["weights"]["clip c=0.001"]
    assert clipped["max_abs"] <= 0.001 + 1e-9 and clipped["at_clip"] > 0.9   # tflib init is far beyond 0.001
    assert json.loads((root / "figure1.json").read_text())["settings"]["deep_width"] == 16


def gan_eval(dataset, method, modes, high_quality):
    return {"dataset": dataset, "method": method, "status": "completed",
            "metrics": {"modes": modes, "total_modes": 8 if dataset == "8gaussians" else 25,
                        "high_quality": high_quality}}


def test_claims_table_has_every_claim_row(tiny_results, tmp_path):
    results, root = tiny_results
    evals = []
    for dataset in ("8gaussians", "25gaussians"):
        for method, modes, quality in (("wgan-gp", 8, 0.7), ("wgan-clip", 6, 0.2)):
            path = tmp_path / f"{dataset}-{method}.json"
            path.write_text(json.dumps(gan_eval(dataset, method, modes, quality)))
            evals.append(str(path))
    markdown = write_claims_table(root / "figure1.json", evals, tmp_path / "figure1", "tiny.").read_text()
    for text in ("clip c=0.001", "clip c=0.1", "clip c=0.01", "GP: gradient norms stay flat", "piles the weights",
                 "8gaussians: the GP critic", "25gaussians: the GP critic", "swissroll: the GP critic",
                 "8gaussians GAN", "25gaussians GAN"):
        assert text in markdown, text
    assert (tmp_path / "figure1.csv").read_text().count("\n") == 11


def test_claim_verdicts_follow_the_numbers():
    layers = 13
    results = {
        "layer_gradient_norms": {
            "clip c=0.1": list(np.linspace(8, 2, layers)),        # grows by 1e6 towards the input: explodes
            "clip c=0.01": list(np.linspace(-9, -1, layers)),
            "clip c=0.001": list(np.linspace(-20, -2, layers)),    # shrinks by 1e18 towards the input: vanishes
            "gradient penalty": [0.1, -0.2] * 6 + [0.0],           # within a factor 10^0.3: flat
        },
        "weights": {"clip c=0.01": {"at_clip": 0.8}, "gradient penalty": {"at_clip": 0.001}},
        "surfaces": {f"{d}/{m}": {"auc": 0.9 if m == "wgan-gp" else 0.6}
                     for d in ("8gaussians", "25gaussians", "swissroll") for m in ("wgan-clip", "wgan-gp")},
    }
    gans = [gan_eval("8gaussians", "wgan-gp", 8, 0.7), gan_eval("8gaussians", "wgan-clip", 8, 0.1),
            gan_eval("25gaussians", "wgan-gp", 20, 0.1), gan_eval("25gaussians", "wgan-clip", 22, 0.2)]
    verdicts = {row["claim"].split(":")[0]: row["reproduced"] for row in claims(results, gans)}
    assert verdicts["clip c=0.001"] == verdicts["clip c=0.1"] == verdicts["GP"] == "yes"
    assert verdicts["8gaussians GAN"] == "yes" and verdicts["25gaussians GAN"] == "NO"   # reported, not hidden
    rows = claims(results, gans)
    assert "1e+18" in rows[0]["measured"] and "1e+06" in rows[1]["measured"]


def test_bad_figure1_settings_are_config_errors():
    with pytest.raises(ConfigError, match="steps"):
        settings_from({"steps": 10})
    with pytest.raises(ConfigError, match="deep_width"):
        settings_from({"deep_width": 0})
