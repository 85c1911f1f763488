"""The ``gpbench`` command: argument parsing and friendly errors, one verb per pipeline step."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import textwrap
import threading
from pathlib import Path

from gpbench import __version__
from gpbench.errors import ConfigError, DataError, GpbenchError

# report.tables.TABLES's keys (tests tie them), spelled here so that parsing a command line imports no torch
TABLE_KINDS = ("replication", "flex", "health", "architectures", "random_architectures")

DEVICE_HELP = "where the generator and Inception run: auto (a CUDA GPU where there is one), cpu, cuda, cuda:N"
DATASET_HELP = "a dataset name (gpbench's table in gpbench/data/catalog.py), e.g. mnist, cifar10, 8gaussians"
DATA_ROOT_HELP = "folder holding the datasets, one subfolder each (default: data)"
INCEPTION_HELP = ("weights-inception-2015-12-05-6726825d.pth (default: the torch hub cache; downloaded when a network "
                  "is there)")
LENET_EPOCHS_HELP = "epochs for the LeNet (default: >= 60k sample passes, >= 2)"
# The verbs as `gpbench --help` lists them: what a user runs, and the steps the Snakefile runs for a suite.
VERB_GROUPS = {
    "run and read experiments": ("train", "eval", "diagnose", "table", "plot", "reproduce"),
    "penalties": ("penalties", "check-penalty", "dirac"),
    "the paper's figures, tables and published numbers": ("figure1", "figure4", "grid", "claims", "published"),
    "pipeline steps (the Snakefile runs these; also by hand)": ("data", "inception-weights", "prepare-metrics",
                                                                "samples", "cost", "rehearsal-data"),
}
DESCRIPTION = """\
gpbench: gradient penalties for GAN training, benchmarked, and Gulrajani et al. 2017 ("Improved Training of
Wasserstein GANs") replicated: WGAN-GP against weight clipping and NS-GAN on toy data, MNIST and CIFAR-10.

Start here:
  gpbench train configs/examples/25gaussians-wgan-gp.yaml --out runs/demo --set iterations=500
  gpbench eval runs/demo
Whole suites run through Snakemake: `snakemake --cores all --configfile configs/quick.yaml` (CPU, results in
results/quick/) or `snakemake --cores all` (the full replication). `gpbench VERB --help` explains each verb.
"""


def _penalties(args: argparse.Namespace) -> int:
    from gpbench.penalties import REGISTRY

    rows = [("kind", "evaluated at", "value", "default lambda", "added to")]
    rows += [(kind, cls.evaluated_at, cls.formula, f"{cls.default_lambda:g}", cls.default_loss)
             for kind, cls in REGISTRY.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print("\nPer-sample norms span all non-batch dims. r1/r2 use the paper's gamma/2 "
          "(GAN_stability's reg_param = lambda/2).")
    return 0


def _check_penalty(args: argparse.Namespace) -> int:
    import torch

    from gpbench.analysis.penaltycheck import check_penalty
    from gpbench.penalties import build_penalty, load_penalty_modules
    from gpbench.training.config import parse_overrides

    load_penalty_modules(args.module, "--module")
    config = {"kind": args.kind, **parse_overrides(args.set)}
    penalty = build_penalty(config)
    torch.set_num_threads(1)               # tensors of a few dozen numbers: more threads only add overhead
    results = check_penalty(config, penalty)
    print(f"gpbench check-penalty: {penalty!r}")
    for result in results:
        print(result.line)
    failed = [result.name for result in results if result.passed is False]
    print(f"{len(failed)} of {sum(result.passed is not None for result in results)} checks failed"
          + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _train(args: argparse.Namespace) -> int:
    from gpbench.training.train import train_from_file

    return train_from_file(args.config, args.out, overrides=args.set)


def _set_threads(threads: int | None) -> None:
    """--threads, or one per physical core (torch's own count includes hyper-threads, docs/performance.md)."""
    import torch

    from gpbench.training.device import physical_cores

    if threads is not None and not 1 <= threads <= 1024:
        raise ConfigError(f"--threads: expected a whole number from 1 to 1,024, got {threads}")
    torch.set_num_threads(threads or physical_cores())


def _eval(args: argparse.Namespace) -> int:
    from gpbench.analysis.evaluate import evaluate_run, format_result

    _set_threads(args.threads)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    result = evaluate_run(args.run_dir, samples=args.samples, curve_samples=args.curve_samples, metrics=metrics,
                          cache_dir=args.cache, inception_weights=args.inception_weights,
                          curves=not args.no_curves, lenet_epochs=args.lenet_epochs, device=args.device)
    print(format_result(result))
    print(f"written: {args.run_dir}/eval.json" + ("" if args.no_curves else f", {args.run_dir}/eval.jsonl"))
    return 0


def _write_note(path: str | None, payload: dict) -> None:
    from gpbench.fileio import write_json_atomic

    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(path), payload)


def _data(args: argparse.Namespace) -> int:
    from gpbench.data import get_dataset

    dataset = get_dataset(args.dataset)
    source = dataset.source(args.data_root)
    if args.stand_in == "refuse" and dataset.is_stand_in(source):
        raise DataError(f"{args.dataset}: only stand-in data is under {args.data_root} ({source.split(';')[0]}); put "
                        f"the real files there (docs/training.md, section Data), or set stand_in_data: allow in the suite config "
                        "(--stand-in allow) to accept it, labelled")
    print(f"{args.dataset}: {source}")
    _write_note(args.out, {"dataset": args.dataset, "source": source})
    return 0


def _prepare_metrics(args: argparse.Namespace) -> int:
    from gpbench.analysis.evaluate import prepare_metrics

    _set_threads(args.threads)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    notes = prepare_metrics(args.dataset, args.data_root, args.cache, samples=args.samples, metrics=metrics,
                            inception_weights=args.inception_weights, lenet_epochs=args.lenet_epochs,
                            device=args.device)
    print(json.dumps(notes, indent=1))
    _write_note(args.out, notes)
    return 0


def _table(args: argparse.Namespace) -> int:
    from gpbench.report.tables import write_tables

    paths = write_tables(args.kind, args.runs, args.out, args.caption)
    print(paths[0].read_text())
    return 0


def _plot(args: argparse.Namespace) -> int:
    from gpbench.report.plots import write_plots

    paths = write_plots(args.runs, args.out, args.prefix)
    print(f"wrote {len(paths)} plots into {args.out}")
    return 0


def _grid(args: argparse.Namespace) -> int:
    from gpbench.report.plots import architecture_grid

    print(f"wrote {architecture_grid(args.runs, args.out)}")
    return 0


def _inception_weights(args: argparse.Namespace) -> int:
    from gpbench.metrics.features import fetch_inception_weights

    print(fetch_inception_weights(Path(args.out)))
    return 0


def _rehearsal_data(args: argparse.Namespace) -> int:
    from gpbench.suite.rehearsal import (SYNTHETIC_FOLDER_IMAGES, SYNTHETIC_FOLDERS, write_random_inception,
                                         write_synthetic_cifar10, write_synthetic_image_folder)

    if not 10 <= args.images_per_batch <= 10_000:
        raise ConfigError(f"--images-per-batch: expected a whole number from 10 to 10,000, got {args.images_per_batch}")
    if not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed: expected a whole number from 0 to {2**32 - 1:,}, got {args.seed}")
    folders = [write_synthetic_cifar10(args.data_root, args.images_per_batch, args.seed)]
    folders += [write_synthetic_image_folder(args.data_root, name, SYNTHETIC_FOLDER_IMAGES, args.seed)
                for name in SYNTHETIC_FOLDERS]
    weights = write_random_inception(args.inception, args.seed)
    print(f"wrote SYNTHETIC DATA into {', '.join(f'{folder}/' for folder in folders)} and RANDOM INCEPTION weights "
          f"to {weights}")
    return 0


def _cost(args: argparse.Namespace) -> int:
    from gpbench.suite.cost import ENGINES_TIMED, suite_cost, to_markdown

    if args.threads is not None:
        _set_threads(args.threads)
    if args.budget_seconds <= 0 or args.min_iterations < 1 or any(count < 1 for count in args.devices):
        raise ConfigError("--budget-seconds must be > 0, --min-iterations and --devices >= 1")
    unknown = [engine for engine in args.engines if engine not in ENGINES_TIMED + ("auto",)]
    if unknown:
        raise ConfigError(f"--engines: {unknown[0]!r} is not allowed; allowed: auto, {', '.join(ENGINES_TIMED)}")
    if args.sharing and (args.sharing_seconds <= 0 or any(count < 1 or 12 % count for count in args.sharing)):
        raise ConfigError("--sharing: expected counts that divide 12 (1, 2, 3, 4, 6, 12); --sharing-seconds > 0")
    command = "gpbench cost " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["cost"] else "gpbench cost"
    measured = None
    if args.from_json:
        from gpbench.suite.costfile import load_costs, timings_from_json

        measured = timings_from_json(load_costs(args.from_json))
    sharing = _sharing(args)
    costs = suite_cost(args.suite, args.budget_seconds, args.min_iterations, args.max_iterations, args.threads,
                       progress=lambda line: print(line, file=sys.stderr), measured=measured,
                       engines=tuple(args.engines), sharing=sharing)
    table = to_markdown(costs, args.suite, args.devices, command, sharing)
    print(table)
    from gpbench.suite.costfile import to_json
    from gpbench.fileio import write_json_atomic, write_text_atomic

    for path, write in ((args.out, lambda p: write_text_atomic(p, table)),
                        (args.json, lambda p: write_json_atomic(p, to_json(costs)))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write(Path(path))
    return 0


def _sharing(args: argparse.Namespace) -> dict | None:
    """The sharing measurement: made now (--sharing K ...), read (--sharing-from FILE), or none."""
    from gpbench.suite.cost import sharing_from_json, sharing_settings, sharing_to_json, suite_sharing
    from gpbench.suite.pipeline import load_suite
    from gpbench.fileio import write_json_atomic

    if args.sharing:
        sharing = suite_sharing(args.suite, sorted(set(args.sharing)), args.sharing_seconds, args.threads,
                                progress=lambda line: print(line, file=sys.stderr))
        if args.sharing_json:
            Path(args.sharing_json).parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(Path(args.sharing_json),
                              sharing_to_json(sharing, sharing_settings(load_suite(args.suite))))
        return sharing
    if args.sharing_from:
        try:
            return sharing_from_json(json.loads(Path(args.sharing_from).read_text()))
        except FileNotFoundError:
            raise ConfigError(f"--sharing-from: {args.sharing_from} does not exist; write it with gpbench cost "
                              f"--sharing 1 2 4 --sharing-json {args.sharing_from}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"--sharing-from: {args.sharing_from} is not what gpbench cost --sharing-json writes "
                              f"({type(error).__name__}: {error})") from None
    return None


def _samples(args: argparse.Namespace) -> int:
    from gpbench.report.plots import last_sample_picture

    print(f"wrote {last_sample_picture(args.run_dir, Path(args.out))}")
    return 0


def _figure1(args: argparse.Namespace) -> int:
    from gpbench.experiments import figure1
    from gpbench.training.config import parse_overrides

    settings = figure1.settings_from(parse_overrides(args.set))
    figure1.run_experiments(settings, Path(args.out), Path(args.plots))
    print(f"wrote {args.out}/figure1.json and {args.plots}/figure1_*.png")
    return 0


def _figure4(args: argparse.Namespace) -> int:
    from gpbench.experiments.figure4 import plot_figure4
    from gpbench.analysis.runresult import RunResult

    path = plot_figure4([RunResult.read(run) for run in args.runs], Path(args.out))
    print(f"wrote {path}")
    return 0


def _dirac(args: argparse.Namespace) -> int:
    import torch

    from gpbench.experiments.dirac import SETTINGS, certify
    from gpbench.report.dirac import certificate_blocks, write_certificate
    from gpbench.report.tables import to_markdown
    from gpbench.training.losses import GAMES

    for name, given, allowed in (("--games", args.games, GAMES), ("--penalties", args.penalties, tuple(SETTINGS))):
        unknown = [value for value in given or [] if value not in allowed]
        if unknown:
            raise ConfigError(f"{name}: {unknown[0]!r} is not allowed; allowed: {', '.join(allowed)}")
    torch.set_num_threads(1)               # two-element tensors: more threads only add overhead
    rows = [certify(game, setting) for game in args.games or GAMES for setting in args.penalties or SETTINGS]
    print(to_markdown(certificate_blocks(rows), "Dirac-GAN convergence certificate", ""))
    if args.out:
        print("wrote " + ", ".join(str(path) for path in write_certificate(rows, args.out)))
    return 0


def _published(args: argparse.Namespace) -> int:
    from gpbench.fileio import write_text_atomic
    from gpbench.report.published import published_markdown

    text = published_markdown(args.suite)
    if args.out:
        write_text_atomic(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _claims(args: argparse.Namespace) -> int:
    from gpbench.report.claims import write_claims_table

    path = write_claims_table(args.out, args.caption, args.figure1, args.gan_evals, args.figure4,
                              args.architectures)
    print(path.read_text())
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """Re-train and re-evaluate chosen runs of a suite from scratch under WORK, compare each with the same seed in
    the suite's committed per-run tables, and write the comparison page."""
    from datetime import date

    import torch

    from gpbench.fileio import write_text_atomic
    from gpbench.report import reproducibility
    from gpbench.suite.pipeline import load_suite
    from gpbench.suite.reproduce import check_fresh, chosen_runs, rerun

    suite = load_suite([args.suite])
    runs = chosen_runs(suite, args.runs, args.suite)
    results = Path(args.results or f"results/{suite['suite']}")
    committed = reproducibility.read_committed(results / "tables")
    reproducibility.check_committed(committed, [(run.dataset, run.label, run.seed) for run in runs])
    check_fresh(Path(args.work), runs)
    threads = suite.get("threads", 1)
    torch.set_num_threads(threads)
    rows = reproducibility.compare(committed, rerun(suite, runs, Path(args.work), threads))
    header = reproducibility.page_header(args.suite, results, threads, date.today().isoformat(), torch.__version__)
    out = Path(args.out or results / "reproducibility.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, reproducibility.to_markdown(rows, header))
    print(out.read_text())
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, pointing at --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _diagnose(args: argparse.Namespace) -> int:
    from gpbench.analysis.diagnose import as_json, diagnose, format_report
    from gpbench.report.health import write_diagnosis

    reports = []
    for run in args.runs:
        checks = diagnose(run)
        reports.append(as_json(run, checks))
        if args.write:
            write_diagnosis(run, reports[-1])
        if not args.json:
            print(format_report(run, checks))
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpbench", usage="gpbench [-h] [--version] VERB ...", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gpbench {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=_Parser,
                                  help=argparse.SUPPRESS)

    penalties = verbs.add_parser("penalties", help="print the penalty kinds, their formulas and defaults")
    penalties.set_defaults(run=_penalties)

    check = verbs.add_parser("check-penalty", help="the behaviour checks every penalty kind should pass, one "
                                                   "PASS/FAIL line each, and its Dirac-GAN verdicts (exit 1 on a FAIL)")
    check.add_argument("kind", help="a penalty kind: gpbench's (`gpbench penalties`) or one a --module registers")
    check.add_argument("--module", action="append", default=[], metavar="FILE_OR_MODULE",
                       help="a .py file or module name that registers penalty kinds (as a run's penalty_modules)")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="a penalty setting (YAML value), e.g. --set lambda=1 --set flex=0.1")
    check.set_defaults(run=_check_penalty)

    train = verbs.add_parser("train", help="train one run from a YAML run config (resumes from DIR/checkpoint.pt)")
    train.add_argument("config", help="run config YAML: method, dataset and what differs from the preset")
    train.add_argument("--out", required=True, help="run directory (created; resumed when it holds a checkpoint)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config key (YAML value), e.g. --set iterations=200")
    train.set_defaults(run=_train)

    evaluate = verbs.add_parser("eval", help="score a run's final checkpoint (eval.json) and snapshots (eval.jsonl)")
    evaluate.add_argument("run_dir", help="a run directory written by gpbench train")
    evaluate.add_argument("--samples", type=int, help="generated samples for the final score "
                          "(default: toy 2500, MNIST 10000, CIFAR-10 50000)")
    evaluate.add_argument("--curve-samples", type=int, help="generated samples per snapshot on the curves "
                          "(default: toy 2500, images 1000)")
    evaluate.add_argument("--metrics", help="comma-separated: modes,emd,swd (toy); fid,is,kid,fid_lenet,is_lenet "
                          "(images); default by dataset")
    evaluate.add_argument("--cache", help="cache for reference statistics and the LeNet (default: DATA_ROOT/cache)")
    evaluate.add_argument("--inception-weights", metavar="FILE",
                          help=INCEPTION_HELP)
    evaluate.add_argument("--no-curves", action="store_true", help="score only the final checkpoint")
    evaluate.add_argument("--lenet-epochs", type=int, help=LENET_EPOCHS_HELP)
    evaluate.add_argument("--threads", type=int, help="torch threads (default: one per physical core)")
    evaluate.add_argument("--device", default="auto", help=DEVICE_HELP)
    evaluate.set_defaults(run=_eval)

    data = verbs.add_parser("data", help="locate or download a dataset and verify its files")
    data.add_argument("dataset", help=DATASET_HELP)
    data.add_argument("--data-root", default="data", help=DATA_ROOT_HELP)
    data.add_argument("--out", help="write a JSON note saying which data was found")
    data.add_argument("--stand-in", choices=["allow", "refuse"], default="allow",
                      help="whether stand-in data (the offline MNIST subset, synthetic files) may take the dataset's "
                           "place (allow: labelled everywhere; the paper suites refuse it)")
    data.set_defaults(run=_data)

    prepare = verbs.add_parser("prepare-metrics", help="train/cache the LeNet and real-data reference statistics")
    prepare.add_argument("dataset", help=DATASET_HELP)
    prepare.add_argument("--data-root", default="data", help=DATA_ROOT_HELP)
    prepare.add_argument("--cache", help="cache for reference statistics and the LeNet (default: DATA_ROOT/cache)")
    prepare.add_argument("--samples", type=int, nargs="+", help="sample counts to prepare statistics for")
    prepare.add_argument("--inception-weights", metavar="FILE", help=INCEPTION_HELP)
    prepare.add_argument("--lenet-epochs", type=int, help=LENET_EPOCHS_HELP)
    prepare.add_argument("--metrics", help="comma-separated, as for gpbench eval (default by dataset)")
    prepare.add_argument("--threads", type=int, help="torch threads (default: one per physical core)")
    prepare.add_argument("--device", default="auto", help=DEVICE_HELP)
    prepare.add_argument("--out", help="write the protocol notes as JSON")
    prepare.set_defaults(run=_prepare_metrics)

    table = verbs.add_parser("table", help="write results tables (md, csv, tex, html) from evaluated runs")
    table.add_argument("kind", choices=list(TABLE_KINDS), help="which table: " + ", ".join(TABLE_KINDS))
    table.add_argument("runs", nargs="+", help="run directories (or their eval.json files)")
    table.add_argument("--out", required=True, help="output path without extension")
    table.add_argument("--caption", default="", help="protocol and reductions, printed with the tables")
    table.set_defaults(run=_table)

    plot = verbs.add_parser("plot", help="Figure-3-style metric curves and training curves")
    plot.add_argument("runs", nargs="+", help="run directories (or their eval.json files)")
    plot.add_argument("--out", required=True, help="plots directory")
    plot.add_argument("--prefix", default="", help="prefix of the plot file names, e.g. flex_")
    plot.set_defaults(run=_plot)

    grid = verbs.add_parser("grid", help="Figure 2's sample grid: architecture rows x method columns")
    grid.add_argument("runs", nargs="+", help="run directories of an architectures section")
    grid.add_argument("--out", required=True, help="the PNG to write")
    grid.set_defaults(run=_grid)

    weights = verbs.add_parser("inception-weights", help="put the official Inception weights at a path (copied from "
                               "the torch hub cache, or downloaded): where the network is, before cluster jobs")
    weights.add_argument("--out", required=True, metavar="FILE", help="where the weights go, e.g. "
                         "data/weights-inception-2015-12-05-6726825d.pth")
    weights.set_defaults(run=_inception_weights)

    rehearsal = verbs.add_parser("rehearsal-data", help="synthetic CIFAR-10 in the real format and random Inception "
                                 "weights, to rehearse the GPU path on CPU (configs/rehearsal.yaml)")
    rehearsal.add_argument("--data-root", required=True,
                           help="cifar-10-batches-py/, imagefolder32/ and imagefolder64/ are written here")
    rehearsal.add_argument("--inception", required=True, metavar="FILE", help="where to save the random weights")
    rehearsal.add_argument("--images-per-batch", type=int, default=50, help="images in each of the six batch files")
    rehearsal.add_argument("--seed", type=int, default=0, help="seed of the synthetic images and weights")
    rehearsal.set_defaults(run=_rehearsal_data)

    cost = verbs.add_parser("cost", help="predict a suite's device-hours and wall-clock by timing its settings here")
    cost.add_argument("--suite", nargs="+", default=["configs/paper.yaml"], help="suite config file(s)")
    cost.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8], help="device counts to schedule for")
    cost.add_argument("--budget-seconds", type=float, default=20.0, help="timing per setting, after warm-up")
    cost.add_argument("--min-iterations", type=int, default=2, help="timed iterations per setting, at least")
    cost.add_argument("--max-iterations", type=int, default=300, help="timed iterations per setting, at most")
    cost.add_argument("--threads", type=int, help="torch threads per run (default: the suite's)")
    cost.add_argument("--from-json", metavar="FILE", help="project from the times an earlier --json wrote (e.g. on "
                      "another machine) instead of timing here")
    cost.add_argument("--out", help="also write the Markdown table here, e.g. results/bench/suite_cost.md")
    cost.add_argument("--json", help="also write the measured times here; a suite's `cost_file` then sets its "
                                     "cluster time limits")
    cost.add_argument("--engines", nargs="+", default=["auto"], metavar="ENGINE",
                      help="time each setting under these engines side by side (auto, eager, graph); the projection "
                           "uses the engine the runs use here")
    cost.add_argument("--sharing", type=int, nargs="+", metavar="K",
                      help="also measure K runs of each family's most common setting at once on this device, as "
                           "processes (K divides 12), and project with the measured slow-down")
    cost.add_argument("--sharing-seconds", type=float, default=8.0, help="timing window of each sharing measurement")
    cost.add_argument("--sharing-json", metavar="FILE", help="write the sharing measurement here")
    cost.add_argument("--sharing-from", metavar="FILE", help="project with a sharing measurement written earlier")
    cost.set_defaults(run=_cost)

    samples = verbs.add_parser("samples", help="copy a run's last sample picture (for a suite's report)")
    samples.add_argument("run_dir", help="a run directory written by gpbench train")
    samples.add_argument("--out", required=True, help="the PNG to write")
    samples.set_defaults(run=_samples)

    figure = verbs.add_parser("figure1", help="Gulrajani et al. Figure 1: fixed-generator critic experiments")
    actions = figure.add_subparsers(dest="action", required=True, help="run: train the critics")
    experiments = actions.add_parser("run", help="train the critics, write figure1.json and figure1_*.png "
                                     "(`gpbench claims` states the claims)")
    experiments.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                             help="critic_steps, width, deep_steps, deep_width, average_last, batch_size, seed")
    experiments.add_argument("--out", required=True, help="directory for figure1.json")
    experiments.add_argument("--plots", required=True, help="directory for figure1_*.png")
    figure.set_defaults(run=_figure1)

    diagnose = verbs.add_parser("diagnose", help="why is my WGAN-GP loss increasing? checks of a run's own logs")
    diagnose.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by gpbench train")
    diagnose.add_argument("--json", action="store_true", help="print the checks as JSON")
    diagnose.add_argument("--write", action="store_true",
                          help="also write diagnosis.json and the health plot diagnosis.png into each run directory")
    diagnose.set_defaults(run=_diagnose)

    overfitting = verbs.add_parser("figure4", help="Gulrajani et al. Figure 4b: training vs held-out critic curves")
    overfitting.add_argument("runs", nargs="+", help="run directories trained with train_subset (dev cost logged)")
    overfitting.add_argument("--out", required=True, help="the plot, e.g. results/quick-figures/plots/figure4_overfitting.png")
    overfitting.set_defaults(run=_figure4)

    dirac = verbs.add_parser("dirac", help="the Dirac-GAN convergence certificate of every game x penalty setting "
                                           "(Mescheder et al. 2018): eigenvalues at the equilibrium and verdicts")
    dirac.add_argument("--games", nargs="+", metavar="GAME", help="games to certify (default: all)")
    dirac.add_argument("--penalties", nargs="+", metavar="SETTING",
                       help="penalty settings to certify, by their names in the table (default: all)")
    dirac.add_argument("--out", help="also write dirac.md, dirac.csv and dirac.png into this directory")
    dirac.set_defaults(run=_dirac)

    published = verbs.add_parser("published", help="the published numbers gpbench compares with, their sources and "
                                                   "protocols, and a suite's rows beside them (docs/published.md)")
    published.add_argument("--suite", default="configs/paper.yaml", help="suite config whose rows to list")
    published.add_argument("--out", help="write the Markdown here (docs/published.md) instead of printing it")
    published.set_defaults(run=_published)

    claims = verbs.add_parser("claims", help="the claims table (md, csv): Figures 1, 2 and 4, Table 1, the toy GANs")
    claims.add_argument("--figure1", help="figure1.json of `gpbench figure1 run`")
    claims.add_argument("--gan-evals", nargs="*", default=[],
                        help="eval.json of wgan-gp / wgan-clip runs on 8gaussians, 25gaussians")
    claims.add_argument("--figure4", nargs="*", default=[], help="the Figure 4 run directories")
    claims.add_argument("--architectures", nargs="*", default=[],
                        help="the Figure 2 and Table 1 run directories (evaluated)")
    claims.add_argument("--out", required=True, help="output path without extension")
    claims.add_argument("--caption", default="", help="protocol and reductions, printed with the table")
    claims.set_defaults(run=_claims)

    reproduce = verbs.add_parser("reproduce", help="re-train chosen runs of a suite and compare them with the "
                                                   "committed per-run tables (results/<suite>/reproducibility.md)")
    reproduce.add_argument("--suite", required=True, help="the suite config, e.g. configs/quick.yaml")
    reproduce.add_argument("--runs", nargs="+", required=True, metavar="RUN",
                           help="runs as the pipeline names them, e.g. 8gaussians/wgan-gp/seed0")
    reproduce.add_argument("--work", required=True, help="where the re-runs train (a fresh folder)")
    reproduce.add_argument("--results", help="the committed results folder (default results/<suite>)")
    reproduce.add_argument("--out", help="the page (default <results>/reproducibility.md)")
    reproduce.set_defaults(run=_reproduce)
    parser.epilog = grouped_verbs(verbs)
    return parser


def grouped_verbs(verbs: argparse._SubParsersAction) -> str:
    """The verbs and their one-line help, in VERB_GROUPS' groups (a test holds every verb in exactly one)."""
    helps = {action.dest: action.help for action in verbs._choices_actions}
    width = max(map(len, helps)) + 2
    lines = []
    for title, group in VERB_GROUPS.items():
        lines += [f"{title}:"] + [textwrap.fill(helps[verb], 118, initial_indent=f"  {verb:<{width}}",
                                                subsequent_indent=" " * (width + 2)) for verb in group] + [""]
    return "\n".join(lines)


MAX_ERROR_CHARACTERS = 2000


def _one_line(text: str) -> str:
    """The message on one line, and at most MAX_ERROR_CHARACTERS of it (a value quoted in it may be huge)."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_ERROR_CHARACTERS else line[:MAX_ERROR_CHARACTERS - 30] + " … (message shortened)"


class Terminated(KeyboardInterrupt):
    """SIGTERM (how Snakemake and SLURM stop a job), handled as Ctrl-C is: the trainer records it in status.json."""
    signal_number = signal.SIGTERM

    def __str__(self) -> str:
        return "stopped by SIGTERM"


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def thread_errors_in_one_line(verb: str):
    """A library's background thread that fails (TensorBoard's event writer on a full disk) says so in one line
    on stderr instead of a traceback; the verb goes on."""
    def report(hook: threading.ExceptHookArgs) -> None:
        name = hook.thread.name if hook.thread else "a thread"
        print(f"gpbench {verb}: warning: background thread {name} failed: {hook.exc_type.__name__}: "
              f"{_one_line(hook.exc_value) if hook.exc_value else ''}", file=sys.stderr)

    previous, threading.excepthook = threading.excepthook, report
    try:
        yield
    finally:
        threading.excepthook = previous


def option_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """dest -> the option as typed (``--out``) for the verb that ran, through nested actions (``figure1 run``)."""
    names: dict[str, str] = {}
    while True:
        chosen = None
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices[getattr(args, action.dest)]
            else:
                names.setdefault(action.dest, (action.option_strings or [action.dest])[0])
        if chosen is None:
            return names
        parser = chosen


def check_encodable(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Every argument is valid UTF-8: a path with other bytes (which Python carries as surrogates) would fail deep in
    a library (TensorBoard's writer, JSON, YAML) after the run directory was made; refuse it first, in one line."""
    names = option_names(parser, args)
    for key, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    shown = os.fsencode(item).decode("utf-8", "backslashreplace")
                    raise ConfigError(f"{names.get(key, key)}: {shown} is not valid UTF-8; use a name in UTF-8 "
                                      "(every file gpbench writes records its paths as text)") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="gpbench: %(message)s")
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else None
    try:
        check_encodable(args, parser)
        with thread_errors_in_one_line(args.verb):
            return args.run(args)
    except GpbenchError as error:
        print(f"gpbench {args.verb}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:            # the reader left (`gpbench diagnose RUN | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())     # no second error at exit
        return 128 + signal.SIGPIPE
    except OSError as error:           # a full or read-only disk, a missing folder: name the file
        where = f"{error.filename}: " if error.filename else ""
        resume = ""
        if args.verb == "train":
            from gpbench.training.rundir import RunDir

            resume = (" (the run resumes from its last checkpoint when the same command runs again)"
                      if RunDir(args.out).has_checkpoint() else " (no checkpoint was written yet: the same command "
                      "starts the run again from the beginning)")
        print(f"gpbench {args.verb}: error: {where}{_one_line(error.strerror or error)}{resume}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        print(f"gpbench {args.verb}: {error or 'interrupted'}", file=sys.stderr)
        return 128 + getattr(error, "signal_number", signal.SIGINT)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
