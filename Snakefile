# gpbench pipeline: suite config -> runs -> train -> eval -> tables and plots.
#   snakemake --cores all                                  # full replication (configs/paper.yaml)
#   snakemake --cores all --configfile configs/quick.yaml  # CPU quick suite
# Rules are thin: each calls a `gpbench` verb. Which runs exist comes from gpbench.suite.pipeline, what a dataset is
# from gpbench.data, a run's file names from gpbench.training.rundir; every paper number from the method presets.

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
from gpbench.suite.rehearsal import SYNTHETIC_DATASETS, SYNTHETIC_FOLDERS
from gpbench.suite.pipeline import (GROUPS as RUN_GROUPS, NAME_PATTERN, cluster_has_gpus, gpu_slots, image_datasets,
                                    job_resources, load_suite, plan, train_priority)

# The suite config, each file read strictly (duplicate keys refused, 1e-4 a number), then the schema.
suite_files = list(workflow.overwrite_configfiles) or ["configs/paper.yaml"]
try:
    suite = load_suite(suite_files, workflow.config_settings.config)
    config.clear()
    config.update(suite)
    validate(config, "configs/schema.yaml")
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
    return lambda wildcards: job_resources(RUNS[wildcards.run], job, GPUS_AVAILABLE, config.get("slurm_gpu_model") or "",
                                           COSTS)[key]


# Rules that only write small files run where Snakemake runs, never as cluster jobs.
localrules: all, run_config, data, rehearsal_data, diagnose, health, table, plots, grid, sample_picture, figure4,
    claims
CAPTION = config.get("caption", "")
GROUPS = {group: [path for path, run in RUNS.items() if run.group == group] for group in RUN_GROUPS}
IMAGE_DATASETS = image_datasets(list(RUNS.values()))
RUN_DIR = f"{RUN_ROOT}/{{run}}"
# Train jobs longest first; the jobs a train job waits on carry its priority (Snakemake does not pass it upstream).
PRIORITY = {path: train_priority(run) for path, run in RUNS.items()}

report: "report/workflow.rst"

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
    return options(("--lenet-epochs", EVAL.get("lenet_epochs")), ("--inception-weights", EVAL.get("inception_weights")),
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
    if "figure1" not in config and not GROUPS["figure4"] and not architecture_runs():
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


rule all:
    input:
        table_outputs("replication"),
        table_outputs("flex"),
        table_outputs("architectures"),
        table_outputs("random_architectures"),
        grid_outputs(),
        plot_outputs("replication", ""),
        plot_outputs("flex", "flex_"),
        claims_outputs(),
        figure4_outputs(),
        dirac_outputs(),
        f"{RESULTS}/tables/health.md" if RUNS else [],
        sample_outputs(),


rule run_config:
    output:
        f"{RUN_DIR}/{rundir.PIPELINE_CONFIG}",
    priority: lambda wildcards: PRIORITY[wildcards.run]
    params:
        config=lambda wildcards: RUNS[wildcards.run].config,
    run:
        with open(output[0], "w") as handle:
            yaml.safe_dump(params.config, handle, sort_keys=False)


rule rehearsal_data:
    output:
        marker=f"{DATA_ROOT}/cifar-10-batches-py/SYNTHETIC",
        folder_markers=[f"{DATA_ROOT}/{name}/SYNTHETIC" for name in SYNTHETIC_FOLDERS],
        inception=f"{DATA_ROOT}/random-inception.pth",
    log:
        f"{RESULTS}/logs/rehearsal-data.log",
    params:
        data_root=DATA_ROOT,
        images=(REHEARSAL or {}).get("images_per_batch", 50),
    shell:
        "gpbench rehearsal-data --data-root {params.data_root:q} --inception {output.inception:q} "
        "--images-per-batch {params.images} > {log:q} 2>&1"


rule data:
    input:
        lambda wildcards: rules.rehearsal_data.output if REHEARSAL and wildcards.dataset in SYNTHETIC_DATASETS else [],
    output:
        note=f"{RESULTS}/data/{{dataset}}.json",
    log:
        f"{RESULTS}/logs/data-{{dataset}}.log",
    priority: lambda wildcards: max(PRIORITY[path] for path, run in RUNS.items() if run.dataset == wildcards.dataset)
    params:
        data_root=DATA_ROOT,
        stand_in="allow" if REHEARSAL else config.get("stand_in_data", "allow"),
    shell:
        "gpbench data {wildcards.dataset:q} --data-root {params.data_root:q} --stand-in {params.stand_in} "
        "--out {output.note:q} > {log:q} 2>&1"


rule prepare_metrics:
    input:
        rules.data.output.note,
    output:
        notes=f"{RESULTS}/data/{{dataset}}-metrics.json",
    log:
        f"{RESULTS}/logs/prepare-metrics-{{dataset}}.log",
    threads: THREADS
    params:
        data_root=DATA_ROOT,
        options=lambda wildcards: metric_options(wildcards.dataset),
        samples=lambda wildcards: prepared_sample_counts(wildcards.dataset),
    shell:
        "gpbench prepare-metrics {wildcards.dataset:q} --data-root {params.data_root:q} {params.samples} "
        "{params.options} --threads {threads} --out {output.notes:q} > {log:q} 2>&1"


rule train:
    input:
        config=rules.run_config.output[0],
        data=lambda wildcards: expand(rules.data.output.note, dataset=dataset_of(wildcards))
        if dataset_of(wildcards) in IMAGE_DATASETS else [],
    output:
        done=f"{RUN_DIR}/{rundir.TRAIN_DONE}",      # not status.json: Snakemake deletes outputs before a rerun
    log:
        f"{RUN_DIR}/{rundir.TRAIN_LOG}",
    benchmark:
        f"{RUN_DIR}/{rundir.TRAIN_BENCHMARK}"
    threads: THREADS
    priority: lambda wildcards: PRIORITY[wildcards.run]
    resources:
        gpu_slots=lambda wildcards: gpu_slots(dataset_of(wildcards), RUNS_PER_GPU),
        gpu=cluster("train", "gpu"),
        gpu_model=cluster("train", "gpu_model"),
        mem_mb=cluster("train", "mem_mb"),
        runtime=cluster("train", "runtime"),
    params:
        run_dir=lambda wildcards: f"{RUN_ROOT}/{wildcards.run}",
    shell:
        "gpbench train {input.config:q} --out {params.run_dir:q} --set threads={threads} > {log:q} 2>&1 "
        "&& touch {output.done:q}"


rule eval:
    input:
        trained=rules.train.output.done,
        prepared=lambda wildcards: expand(rules.prepare_metrics.output.notes, dataset=dataset_of(wildcards))
        if dataset_of(wildcards) in IMAGE_DATASETS else [],
    output:
        result=f"{RUN_DIR}/{rundir.EVAL}",
    log:
        f"{RUN_DIR}/{rundir.EVAL_LOG}",
    threads: THREADS
    resources:
        gpu_slots=lambda wildcards: gpu_slots(dataset_of(wildcards), RUNS_PER_GPU),
        gpu=cluster("eval", "gpu"),
        gpu_model=cluster("eval", "gpu_model"),
        mem_mb=cluster("eval", "mem_mb"),
        runtime=cluster("eval", "runtime"),
    params:
        run_dir=lambda wildcards: f"{RUN_ROOT}/{wildcards.run}",
        options=lambda wildcards: eval_options(dataset_of(wildcards)),
    shell:
        "gpbench eval {params.run_dir:q} {params.options} --threads {threads} > {log:q} 2>&1"


rule diagnose:
    input:
        rules.eval.output.result,             # the collapse check reads the evaluation curve
    output:
        report=f"{RUN_DIR}/{rundir.DIAGNOSIS}",
        plot=f"{RUN_DIR}/{rundir.DIAGNOSIS_PLOT}",
    log:
        f"{RUN_DIR}/{rundir.DIAGNOSE_LOG}",
    params:
        run_dir=lambda wildcards: f"{RUN_ROOT}/{wildcards.run}",
    shell:
        "gpbench diagnose {params.run_dir:q} --write > {log:q} 2>&1"


rule health:
    input:
        diagnoses(list(RUNS)),
    output:
        expand(f"{RESULTS}/tables/health.{{ext}}", ext=["md", "csv", "tex"]),
        report(f"{RESULTS}/tables/health.html", caption="report/health.rst", category="8. Health"),
    log:
        f"{RESULTS}/logs/table-health.log",
    params:
        runs=[f"{RUN_ROOT}/{path}" for path in RUNS],
        out=f"{RESULTS}/tables/health",
        caption=options(("--caption", CAPTION)),
    shell:
        "gpbench table health {params.runs:q} --out {params.out:q} {params.caption} > {log:q} 2>&1"


rule table:
    input:
        evals=lambda wildcards: evals(GROUPS[wildcards.group]),
        diagnoses=lambda wildcards: diagnoses(GROUPS[wildcards.group]),
    output:
        expand(f"{RESULTS}/tables/{{{{group}}}}.{{ext}}", ext=["md", "csv", "tex"]),
        report(f"{RESULTS}/tables/{{group}}.html", caption="report/table.rst", category="1. Tables"),
        f"{RESULTS}/tables/{{group}}_runs.csv",
    log:
        f"{RESULTS}/logs/table-{{group}}.log",
    wildcard_constraints:
        group="replication|flex|architectures|random_architectures",
    params:
        out=lambda wildcards: f"{RESULTS}/tables/{wildcards.group}",
        caption=options(("--caption", CAPTION)),
    shell:
        "gpbench table {wildcards.group:q} {input.evals:q} --out {params.out:q} {params.caption} > {log:q} 2>&1"


rule plots:
    input:
        lambda wildcards: evals([path for path in GROUPS["flex" if wildcards.prefix else "replication"]
                                 if RUNS[path].dataset == wildcards.dataset]),
    output:
        report(f"{RESULTS}/plots/{{prefix}}figure3_{{dataset}}.png", caption="report/figure3.rst", category="4. Figure 3",
               subcategory="{prefix}{dataset}"),
        report(f"{RESULTS}/plots/{{prefix}}curves_{{dataset}}.png", caption="report/curves.rst",
               category="6. Training curves", subcategory="{prefix}{dataset}"),
    log:
        f"{RESULTS}/logs/plots-{{prefix}}{{dataset}}.log",
    wildcard_constraints:
        prefix="(flex_)?",
    params:
        out=f"{RESULTS}/plots",
    shell:
        "gpbench plot {input:q} --out {params.out:q} --prefix '{wildcards.prefix}' > {log:q} 2>&1"


rule grid:
    input:
        lambda wildcards: evals([path for path in GROUPS["architectures"] if RUNS[path].dataset == wildcards.dataset]),
    output:
        report(f"{RESULTS}/plots/figure2_grid_{{dataset}}.png", caption="report/grid.rst",
               category="9. Architectures (Figure 2, Table 1)"),
    log:
        f"{RESULTS}/logs/grid-{{dataset}}.log",
    params:
        runs=lambda wildcards: [f"{RUN_ROOT}/{path}" for path in GROUPS["architectures"]
                                if RUNS[path].dataset == wildcards.dataset],
    shell:
        "gpbench grid {params.runs:q} --out {output:q} > {log:q} 2>&1"


rule sample_picture:
    input:
        lambda wildcards: expand(rules.train.output.done, run=rundir.run_path(wildcards.dataset, wildcards.label,
                                                                               wildcards.seed)),
    output:
        report(SAMPLE_PICTURE, caption="report/samples.rst", category="7. Samples", subcategory="{dataset}"),
    log:
        f"{RESULTS}/logs/samples-{{dataset}}_{{label}}_seed{{seed}}.log",
    params:
        run_dir=lambda wildcards: f"{RUN_ROOT}/{rundir.run_path(wildcards.dataset, wildcards.label, wildcards.seed)}",
    shell:
        "gpbench samples {params.run_dir:q} --out {output:q} > {log:q} 2>&1"


rule figure1:
    output:
        results=f"{RUN_ROOT}/figure1/figure1.json",
        plots=[report(f"{RESULTS}/plots/figure1_{name}.png", caption="report/figure1.rst", category="3. Figure 1")
               for name in ("value_surfaces", "gradient_norms", "weights")],
    log:
        f"{RESULTS}/logs/figure1.log",
    threads: THREADS
    params:
        settings=options(*[("--set", f"{key}={value}") for key, value in (config.get("figure1") or {}).items()]),
        out=f"{RUN_ROOT}/figure1",
        plots=f"{RESULTS}/plots",
    shell:
        "gpbench figure1 run {params.settings} --out {params.out:q} --plots {params.plots:q} > {log:q} 2>&1"


rule dirac:
    output:
        table=f"{DIRAC}.md",
        csv=f"{DIRAC}.csv",
        page=report(f"{DIRAC}.html", caption="report/dirac.rst", category="10. Dirac-GAN"),
        plot=report(f"{DIRAC}.png", caption="report/dirac.rst", category="10. Dirac-GAN"),
    log:
        f"{RESULTS}/logs/dirac.log",
    params:
        games=listed_option("--games", (config.get("dirac") or {}).get("games")),
        penalties=listed_option("--penalties", (config.get("dirac") or {}).get("penalties")),
        out=str(Path(DIRAC).parent),
    shell:
        "gpbench dirac {params.games} {params.penalties} --out {params.out:q} > {log:q} 2>&1"


rule figure4:
    input:
        expand(rules.train.output.done, run=GROUPS["figure4"]),
    output:
        report(f"{RESULTS}/plots/figure4_overfitting.png", caption="report/figure4.rst", category="5. Figure 4"),
    log:
        f"{RESULTS}/logs/figure4.log",
    params:
        runs=[f"{RUN_ROOT}/{path}" for path in GROUPS["figure4"]],
    shell:
        "gpbench figure4 {params.runs:q} --out {output:q} > {log:q} 2>&1"


rule claims:
    input:
        figure1=rules.figure1.output.results if "figure1" in config else [],
        evals=evals(toy_gan_runs()) if "figure1" in config else [],
        figure4=evals(GROUPS["figure4"]),         # Fig. 4a ranks the snapshots' sample metric: evaluated runs
        architectures=evals(architecture_runs()),
    output:
        f"{RESULTS}/tables/claims.md",
        f"{RESULTS}/tables/claims.csv",
        report(f"{RESULTS}/tables/claims.html", caption="report/claims.rst", category="2. Claims"),
    log:
        f"{RESULTS}/logs/claims.log",
    params:
        out=f"{RESULTS}/tables/claims",
        caption=options(("--caption", CAPTION)),
        figure1=lambda wildcards, input: options(("--figure1", input.figure1)),
        figure4=[f"{RUN_ROOT}/{path}" for path in GROUPS["figure4"]],
        architectures=[f"{RUN_ROOT}/{path}" for path in architecture_runs()],
    shell:
        "gpbench claims {params.figure1} --gan-evals {input.evals:q} --figure4 {params.figure4:q} "
        "--architectures {params.architectures:q} --out {params.out:q} {params.caption} > {log:q} 2>&1"
