# gpbench pipeline: suite config -> runs -> train -> eval -> tables and plots.
#   snakemake --cores all                                  # full replication (configs/paper.yaml)
#   snakemake --cores all --configfile configs/quick.yaml  # CPU quick suite
# Rules are thin: each calls a `gpbench` verb. Which runs exist comes from gpbench.pipeline, what a dataset is
# from gpbench.data, a run's file names from gpbench.rundir; every paper number from the method presets.

import yaml
from snakemake.utils import validate

from gpbench import rundir
from gpbench.data import DATASETS
from gpbench.pipeline import image_datasets, needs_gpu, plan

if not config:
    with open("configs/paper.yaml") as handle:
        config.update(yaml.safe_load(handle))
validate(config, "configs/schema.yaml")

SUITE = config["suite"]
RUNS = {run.path: run for run in plan(config)}
RUN_ROOT = f"runs/{SUITE}"
RESULTS = f"results/{SUITE}"
DATA_ROOT = config.get("data_root", "data")
THREADS = config.get("threads", 1)
EVAL = config.get("eval", {})
CAPTION = config.get("caption", "")
GROUPS = {group: [path for path, run in RUNS.items() if run.group == group] for group in ("replication", "flex")}
IMAGE_DATASETS = image_datasets(list(RUNS.values()))
RUN_DIR = f"{RUN_ROOT}/{{run}}"

wildcard_constraints:
    run=r"[^/]+/[^/]+/seed\d+",
    dataset="|".join(DATASETS),


def option(flag, value):
    return f"{flag} {value}" if value else ""


def eval_options(dataset):
    return " ".join(filter(None, [
        option("--samples", EVAL.get("samples", {}).get(dataset)),
        option("--curve-samples", EVAL.get("curve_samples", {}).get(dataset)),
        option("--lenet-epochs", EVAL.get("lenet_epochs")),
        option("--inception-weights", EVAL.get("inception_weights")),
    ]))


def dataset_of(wildcards):
    return RUNS[wildcards.run].dataset


def evals(paths):
    return expand(rules.eval.output.result, run=paths)


def table_outputs(group):
    return expand(f"{RESULTS}/tables/{group}.{{ext}}", ext=["md", "csv", "tex"]) if GROUPS[group] else []


def plot_outputs(group, prefix):
    datasets = sorted({RUNS[path].dataset for path in GROUPS[group]})
    return expand(f"{RESULTS}/plots/{prefix}{{kind}}_{{dataset}}.png", kind=["figure3", "curves"], dataset=datasets)


def figure1_outputs():
    return [f"{RESULTS}/tables/figure1.md", f"{RESULTS}/tables/figure1.csv"] if "figure1" in config else []


def toy_gan_runs():
    """The wgan-gp / wgan-clip runs on 8 and 25 gaussians whose mode coverage the Figure 1 table reports."""
    return [path for path in GROUPS["replication"]
            if RUNS[path].dataset in ("8gaussians", "25gaussians") and RUNS[path].label in ("wgan-gp", "wgan-clip")]


rule all:
    input:
        table_outputs("replication"),
        table_outputs("flex"),
        plot_outputs("replication", ""),
        plot_outputs("flex", "flex_"),
        figure1_outputs(),


rule run_config:
    output:
        f"{RUN_DIR}/{rundir.PIPELINE_CONFIG}",
    params:
        config=lambda wildcards: RUNS[wildcards.run].config,
    run:
        with open(output[0], "w") as handle:
            yaml.safe_dump(params.config, handle, sort_keys=False)


rule data:
    output:
        note=f"{RESULTS}/data/{{dataset}}.json",
    log:
        f"{RESULTS}/logs/data-{{dataset}}.log",
    shell:
        "gpbench data {wildcards.dataset} --data-root {DATA_ROOT} --out {output.note} > {log} 2>&1"


rule prepare_metrics:
    input:
        rules.data.output.note,
    output:
        notes=f"{RESULTS}/data/{{dataset}}-metrics.json",
    log:
        f"{RESULTS}/logs/prepare-metrics-{{dataset}}.log",
    threads: THREADS
    params:
        options=lambda wildcards: option("--lenet-epochs", EVAL.get("lenet_epochs"))
        + " " + option("--inception-weights", EVAL.get("inception_weights")),
        samples=lambda wildcards: option("--samples", " ".join(str(n) for n in filter(None, [
            EVAL.get("samples", {}).get(wildcards.dataset), EVAL.get("curve_samples", {}).get(wildcards.dataset)]))),
    shell:
        "gpbench prepare-metrics {wildcards.dataset} --data-root {DATA_ROOT} {params.samples} {params.options} "
        "--out {output.notes} > {log} 2>&1"


rule train:
    input:
        config=rules.run_config.output[0],
        data=lambda wildcards: expand(rules.data.output.note, dataset=dataset_of(wildcards))
        if dataset_of(wildcards) in IMAGE_DATASETS else [],
    output:
        status=f"{RUN_DIR}/{rundir.STATUS}",
    log:
        f"{RUN_DIR}/{rundir.TRAIN_LOG}",
    benchmark:
        f"{RUN_DIR}/{rundir.TRAIN_BENCHMARK}"
    threads: THREADS
    resources:
        gpu=lambda wildcards: int(needs_gpu(dataset_of(wildcards))),
    shell:
        "gpbench train {input.config} --out {RUN_ROOT}/{wildcards.run} > {log} 2>&1"


rule eval:
    input:
        status=rules.train.output.status,
        prepared=lambda wildcards: expand(rules.prepare_metrics.output.notes, dataset=dataset_of(wildcards))
        if dataset_of(wildcards) in IMAGE_DATASETS else [],
    output:
        result=f"{RUN_DIR}/{rundir.EVAL}",
    log:
        f"{RUN_DIR}/{rundir.EVAL_LOG}",
    threads: THREADS
    resources:
        gpu=lambda wildcards: int(needs_gpu(dataset_of(wildcards))),
    params:
        options=lambda wildcards: eval_options(dataset_of(wildcards)),
    shell:
        "gpbench eval {RUN_ROOT}/{wildcards.run} {params.options} > {log} 2>&1"


rule table:
    input:
        lambda wildcards: evals(GROUPS[wildcards.group]),
    output:
        expand(f"{RESULTS}/tables/{{{{group}}}}.{{ext}}", ext=["md", "csv", "tex"]),
    log:
        f"{RESULTS}/logs/table-{{group}}.log",
    wildcard_constraints:
        group="replication|flex",
    params:
        caption=CAPTION,
    shell:
        "gpbench table {wildcards.group} {input} --out {RESULTS}/tables/{wildcards.group} --caption {params.caption:q} "
        "> {log} 2>&1"


rule plots:
    input:
        lambda wildcards: evals([path for path in GROUPS["flex" if wildcards.prefix else "replication"]
                                 if RUNS[path].dataset == wildcards.dataset]),
    output:
        f"{RESULTS}/plots/{{prefix}}figure3_{{dataset}}.png",
        f"{RESULTS}/plots/{{prefix}}curves_{{dataset}}.png",
    log:
        f"{RESULTS}/logs/plots-{{prefix}}{{dataset}}.log",
    wildcard_constraints:
        prefix="(flex_)?",
    shell:
        "gpbench plot {input} --out {RESULTS}/plots --prefix '{wildcards.prefix}' > {log} 2>&1"


rule figure1:
    output:
        results=f"{RUN_ROOT}/figure1/figure1.json",
        plots=expand(f"{RESULTS}/plots/figure1_{{name}}.png", name=["value_surfaces", "gradient_norms", "weights"]),
    log:
        f"{RESULTS}/logs/figure1.log",
    threads: THREADS
    params:
        settings=" ".join(f"--set {key}={value}" for key, value in (config.get("figure1") or {}).items()),
    shell:
        "gpbench figure1 run {params.settings} --out {RUN_ROOT}/figure1 --plots {RESULTS}/plots > {log} 2>&1"


rule figure1_table:
    input:
        results=rules.figure1.output.results,
        evals=evals(toy_gan_runs()),
    output:
        f"{RESULTS}/tables/figure1.md",
        f"{RESULTS}/tables/figure1.csv",
    log:
        f"{RESULTS}/logs/figure1-table.log",
    params:
        caption=CAPTION,
    shell:
        "gpbench figure1 table {input.results} {input.evals} --out {RESULTS}/tables/figure1 --caption {params.caption:q} "
        "> {log} 2>&1"
