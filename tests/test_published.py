"""Published numbers pinned to their protocols: every entry names its source and every protocol field; a table row
shows the closest ones with the fields where its protocol differs; docs/published.md is what `gpbench published`
writes."""

from pathlib import Path

import pytest
import yaml

from gpbench.errors import DataError
from gpbench.paper.published import PROTOCOL_FIELDS, check_entry, load_published
from gpbench.report.published import closest, differences, published_markdown, run_protocol
from gpbench.training.config import resolve

REPO = Path(__file__).resolve().parents[1]


def test_every_entry_names_its_source_and_every_protocol_field():
    entries = load_published()
    assert len(entries) >= 25
    for entry in entries:
        assert "@" in entry["source"] or "et al." in entry["source"], entry["source"]   # a commit, or a paper
        assert set(PROTOCOL_FIELDS) <= set(entry["protocol"]) and entry["spread_over"]
        assert isinstance(entry["value"], (int, float, str)) and entry["dataset"] and entry["metric"]
    seeded = {(entry["source"].split(",")[0].split(" ")[0], entry["dataset"]) for entry in entries}
    for source, dataset in [("Gulrajani", "cifar10"), ("Mimicry", "cifar10"), ("compare_gan", "cifar10"),
                            ("PyTorch-StudioGAN", "cifar10"), ("pytorch-gan-collections", "cifar10"),
                            ("PacGAN", "8gaussians"), ("PacGAN", "25gaussians"), ("PacGAN", "stacked-mnist"),
                            ("Huang", "stacked-mnist"), ("Mescheder", "dirac")]:
        assert (source, dataset) in seeded, (source, dataset)


@pytest.mark.parametrize("broken, error", [
    ({"source": ""}, "source must say where the number was read"),
    ({"protocol": {"data": "same"}}, "protocol lacks architecture, iterations"),
    ({"protocol": "as the paper"}, "protocol lacks data"),
    ({"value": None, "spread_over": None, "method": None, "dataset": None, "metric": None, "spread": None,
      "source": None, "protocol": None, "drop": True}, "missing method"),
])
def test_an_entry_without_its_source_or_protocol_is_refused_in_one_line(broken, error):
    entry = dict(load_published()[0])
    if broken.pop("drop", False):
        entry = {}
    entry.update({key: value for key, value in broken.items() if value is not None})
    with pytest.raises(DataError, match=error):
        check_entry(entry, 4)
    assert "entry 5" in str(pytest.raises(DataError, check_entry, entry, 4).value)


def test_the_resnet_row_differs_from_table_3_only_in_how_runs_are_aggregated():
    config = resolve({"method": "wgan-gp", "dataset": "cifar10", "arch": "cifar10-resnet"})
    matches = closest("wgan-gp", "cifar10", "is", run_protocol(config, "is", 50_000, 3))
    entry, differs = matches[0]
    assert (entry["value"], entry["spread"]) == (7.86, 0.07) and entry["source"].startswith("Gulrajani et al. 2017")
    assert differs == ["aggregation: not stated (one run) vs mean of 3 seeds, last checkpoint"]
    assert [len(d) for _, d in matches] == sorted(len(d) for _, d in matches)       # the closest first


def test_a_cpu_sized_row_lists_every_field_it_changed():
    config = resolve({"method": "wgan-gp", "dataset": "cifar10", "dim": 32, "iterations": 800})
    gulrajani = next(entry for entry in load_published() if entry["value"] == 7.86)
    assert differences(gulrajani, run_protocol(config, "is", 2_000, 3)) == [
        "architecture: cifar10-resnet vs cifar10 DIM 32", "iterations: 100,000 vs 800",
        "optimizer: adam 0.0002 β (0, 0.9), linear decay vs adam 0.0001 β (0.5, 0.9)", "samples: 50,000 vs 2,000",
        "aggregation: not stated (one run) vs mean of 3 seeds, last checkpoint"]
    studiogan = next(entry for entry in load_published() if entry["value"] == 25.85)
    assert "reference: test vs train" in differences(studiogan, run_protocol(config, "fid", 2_000, 3))
    assert "features: Inception (pytorch_gan_metrics) vs LeNet" in differences(
        next(entry for entry in load_published() if entry["value"] == 19.83), run_protocol(config, "fid_lenet", 2, 1))


def test_the_replication_table_shows_the_closest_published_numbers_with_what_differs():
    from gpbench.analysis.runresult import RunResult
    from gpbench.report.tables import replication

    runs = []
    for seed in range(2):
        config = resolve({"method": "wgan-gp", "dataset": "cifar10", "arch": "cifar10-resnet", "seed": seed})
        final = {"metrics": {"is": 7.5 + seed / 10, "fid": 30.0, "sample_spread": 1.0},
                 "protocol": {"samples": 50_000}, "iteration": 100_000}
        runs.append(RunResult(Path(f"runs/t/cifar10/wgan-gp-cifar10-resnet/seed{seed}"), config,
                              {"status": "completed"}, [{"iteration": 99_999, "seconds": 10.0}], final, []))
    blocks, records = replication(runs)
    row = blocks[0].rows[0]
    published = row[blocks[0].header.index("paper / public")]
    assert ("IS 7.86 ± 0.07 [Gulrajani et al. 2017, Table 3] (differs: aggregation: not stated (one run) vs mean of "
            "2 seeds, last checkpoint); IS 8.42") in published
    assert published.startswith("FID 22.29 ± 0.06 [Mimicry README, CIFAR-10 results] (differs: architecture: ResNet")
    assert "|" not in published and published.count("more in docs/published.md") == 2
    is_record = next(record for record in records if record["metric"] == "is")
    assert is_record["paper"] == 7.86 and is_record["delta"] == pytest.approx(7.55 - 7.86)
    assert is_record["paper_differs"] == "aggregation: not stated (one run) vs mean of 2 seeds, last checkpoint"


def test_docs_published_md_is_what_gpbench_published_writes():
    assert (REPO / "docs/published.md").read_text() == published_markdown("configs/paper.yaml", base=REPO)


def test_the_dirac_entries_agree_with_the_certificates_analytic_values():
    from gpbench.experiments.dirac import regularised_eigenvalues

    values = {entry.get("variant", ""): entry["value"] for entry in load_published() if entry["dataset"] == "dirac"}
    assert values[""].startswith("±0.5i")
    eigenvalues = regularised_eigenvalues(0.3, 0.5)
    r1 = next(value for variant, value in values.items() if variant.startswith("R1 with gamma 0.3"))
    assert r1.startswith(f"{eigenvalues[0].real:.2f} ± {abs(eigenvalues[0].imag):.3f}i")


def test_the_published_file_parses_as_plain_yaml_entries():
    raw = yaml.safe_load((REPO / "gpbench/paper/published.yaml").read_text())
    assert isinstance(raw, list) and all(isinstance(entry, dict) for entry in raw)
