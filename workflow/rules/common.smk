# Shared by every rule file: the suite config (read strictly, validated), its runs, and the helpers that name
# inputs, outputs and options. Which runs exist comes from gpbench.suite.pipeline, what a dataset is from
# gpbench.data, a run's file names from gpbench.training.rundir; every paper number from gpbench.paper.

import shlex
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from gpbench.training import rundir
from gpbench.paper import FIGURE1_METHODS
from gpbench.suite.costfile import load_costs
from gpbench.data import DATASETS
from gpbench.errors import ConfigError
from gpbench.metrics.features import INCEPTION_WEIGHTS_FILE
from gpbench.suite.rehearsal import SYNTHETIC_DATASETS, SYNTHETIC_FOLDERS
from gpbench.suite.pipeline import (GROUPS as RUN_GROUPS, NAME_PATTERN, SCHEMA, cluster_has_gpus, gpu_slots,
                                    image_datasets, job_resources, judges_claims, load_suite, plan,
                                    report_categories, train_priority, uses_inception)

# The suite config, each file read strictly (duplicate keys refused, 1e-4 a number), then the schema.
suite_files = list(workflow.overwrite_configfiles) or ["configs/paper.yaml"]
try:
    suite = load_suite(suite_files, workflow.config_settings.config)
    config.clear()
    config.update(suite)
    validate(config, str(SCHEMA))
    RUNS = {run.path: run for run in plan(config, base=Path(workflow.basedir))}
except ConfigError as error:        # one line naming the key, exit 2, before any job (as every gpbench verb)
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(2)

SUITE = config["suite"]
RUN_ROOT = f"runs/{SUITE}"
RESULTS = f"results/{SUITE}"
DATA_ROOT = config.get("data_root", "data")
THREADS = config.get("threads", 1)
EVAL = config.get("eval", {})
REHEARSAL = config.get("rehearsal")
if REHEARSAL:              # synthetic CIFAR-10, image folders and random Inception weights (rule rehearsal_data)
    EVAL = {**EVAL, "inception_weights": f"{DATA_ROOT}/random-inception.pth"}
RUNS_PER_GPU = config.get("runs_per_gpu", {})
# Cluster resources of train and eval jobs (profiles/slurm): GPU type from the profile, time limits from the
# suite's cost_file (`gpbench cost --json`) when it has one; no GPU request where the cluster has none.
GPUS_AVAILABLE = cluster_has_gpus()
COSTS = load_costs(config.get("cost_file"))


def cluster(job, key):
    return lambda wildcards: job_resources(RUNS[wildcards.run], job, GPUS_AVAILABLE,
                                           config.get("slurm_gpu_model") or "", COSTS)[key]


# Rules that only write small files run where Snakemake runs, never as cluster jobs.
localrules: all, run_config, data, inception_weights, rehearsal_data, diagnose, health, table, plots, grid,
    sample_picture, figure4, claims
CAPTION = config.get("caption", "")
GROUPS = {group: [path for path, run in RUNS.items() if run.group == group] for group in RUN_GROUPS}
IMAGE_DATASETS = image_datasets(list(RUNS.values()))
# Inception metrics read the official weights; where the suite names none, the local rule inception_weights puts
# them in the data root, where the network is (a cluster's jobs then never download).
INCEPTION_DATASETS = [dataset for dataset in IMAGE_DATASETS if uses_inception(dataset, EVAL)]
FETCHED_WEIGHTS = (f"{DATA_ROOT}/{INCEPTION_WEIGHTS_FILE}" if INCEPTION_DATASETS and not EVAL.get("inception_weights")
                   else None)
if FETCHED_WEIGHTS:
    EVAL = {**EVAL, "inception_weights": FETCHED_WEIGHTS}
RUN_DIR = f"{RUN_ROOT}/{{run}}"
# Train jobs longest first; the jobs a train job waits on carry its priority (Snakemake does not pass it upstream).
PRIORITY = {path: train_priority(run) for path, run in RUNS.items()}

wildcard_constraints:             # run paths are made of names that passed pipeline.NAME_PATTERN
    run=rundir.run_path(NAME_PATTERN.pattern, NAME_PATTERN.pattern, r"\d+"),
    dataset="|".join(DATASETS),
    label=NAME_PATTERN.pattern,
    seed=r"\d+",


def options(*pairs):
    """Command-line options from (flag, value) pairs, values shell-quoted; pairs without a value left out."""
    return " ".join(f"{flag} {shlex.quote(str(value))}" for flag, value in pairs if value)


def listed_option(flag, values):
    """A flag taking several values (each shell-quoted), or nothing when there are none."""
    return " ".join([flag, *map(shlex.quote, values)]) if values else ""


def metric_options(dataset):
    metrics = ",".join(EVAL.get("metrics", {}).get(dataset, []))
    weights = EVAL.get("inception_weights") if dataset in INCEPTION_DATASETS else None
    return options(("--lenet-epochs", EVAL.get("lenet_epochs")), ("--inception-weights", weights),
                   ("--metrics", metrics))


def prepared_sample_counts(dataset):
    """--samples for the reference statistics the eval jobs will ask for (whole numbers, per the schema)."""
    counts = [int(n) for n in (EVAL.get("samples", {}).get(dataset), EVAL.get("curve_samples", {}).get(dataset)) if n]
    return f"--samples {' '.join(map(str, counts))}" if counts else ""


def eval_options(dataset):
    return " ".join([options(("--samples", EVAL.get("samples", {}).get(dataset)),
                             ("--curve-samples", EVAL.get("curve_samples", {}).get(dataset))),
                     metric_options(dataset)])


def dataset_of(wildcards):
    return RUNS[wildcards.run].dataset


def evals(paths):
    return expand(rules.eval.output.result, run=paths)


def diagnoses(paths):
    return expand(rules.diagnose.output.report, run=paths)


TABLE_FORMATS = ["md", "csv", "tex", "html"]


def table_outputs(group):
    return expand(f"{RESULTS}/tables/{group}.{{ext}}", ext=TABLE_FORMATS) if GROUPS[group] else []


SAMPLE_PICTURE = f"{RESULTS}/plots/samples/{{dataset}}_{{label}}_seed{{seed}}.png"


def sample_outputs():
    return expand(SAMPLE_PICTURE, zip, dataset=[run.dataset for run in RUNS.values()],
                  label=[run.label for run in RUNS.values()], seed=[run.seed for run in RUNS.values()])


def plot_outputs(group, prefix):
    datasets = sorted({RUNS[path].dataset for path in GROUPS[group]})
    return expand(f"{RESULTS}/plots/{prefix}{{kind}}_{{dataset}}.png", kind=["figure3", "curves"], dataset=datasets)


def claims_outputs():
    if not judges_claims(config, list(RUNS.values())):
        return []
    return [f"{RESULTS}/tables/claims.md", f"{RESULTS}/tables/claims.csv"]


def architecture_runs():
    """Figure 2's and Table 1's runs, whose claims the claims table judges."""
    return GROUPS["architectures"] + GROUPS["random_architectures"]


def grid_outputs():
    datasets = sorted({RUNS[path].dataset for path in GROUPS["architectures"]})
    return expand(f"{RESULTS}/plots/figure2_grid_{{dataset}}.png", dataset=datasets)


DIRAC = f"{RESULTS}/dirac/dirac"         # the certificate's files: dirac.md, .csv, .html, .png


def dirac_outputs():
    return [f"{DIRAC}.{ext}" for ext in ("md", "csv", "html", "png")] if "dirac" in config else []


def figure4_outputs():
    return [f"{RESULTS}/plots/figure4_overfitting.png"] if GROUPS["figure4"] else []


def toy_gan_runs():
    """The GAN runs of Figure 1's methods on its toys with modes, whose mode coverage the Figure 1 table reports."""
    return [path for path in GROUPS["replication"] if RUNS[path].label in FIGURE1_METHODS
            and DATASETS[RUNS[path].dataset].in_figure1 and "modes" in DATASETS[RUNS[path].dataset].metrics]


# The report's categories, numbered over the sections this suite has (a flex-only suite: 1. Tables, 2. Figure 3, ...)
REPORT_CATEGORIES = report_categories(config, list(RUNS.values()))


def category(name):
    """The report category ``name`` with its number in this suite's report (unnumbered for a rule the suite
    does not run: every rule is defined in every suite)."""
    return f"{REPORT_CATEGORIES.index(name) + 1}. {name}" if name in REPORT_CATEGORIES else name
