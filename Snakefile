# gpbench pipeline: suite config -> runs -> train -> eval -> tables and plots.
#   snakemake --cores all                                  # full replication (configs/paper.yaml)
#   snakemake --cores all --configfile configs/quick.yaml  # CPU quick suite, about an hour on 2 cores
# Rules are thin: each calls a `gpbench` verb. Which runs exist comes from gpbench.pipeline; every paper
# number comes from the method presets in gpbench/config.py.

import yaml
from snakemake.utils import validate

from gpbench.config import DATASETS
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


def prepared(wildcards):
    dataset = RUNS[wildcards.run].dataset
    return [f"{RESULTS}/data/{dataset}-metrics.json"] if dataset in IMAGE_DATASETS else []


def table_outputs(group):
    return expand(f"{RESULTS}/tables/{group}.{{ext}}", ext=["md", "csv", "tex"]) if GROUPS[group] else []


def plot_outputs(group, prefix):
    datasets = sorted({RUNS[path].dataset for path in GROUPS[group]})
    return expand(f"{RESULTS}/plots/{prefix}{{kind}}_{{dataset}}.png", kind=["figure3", "curves"], dataset=datasets)


def figure1_outputs():
    if "figure1" not in config:
        return []
    return [f"{RESULTS}/tables/figure1.md", f"{RESULTS}/tables/figure1.csv"]


def toy_gan_evals(wildcards):
    """The wgan-gp / wgan-clip runs on 8 and 25 gaussians whose mode coverage the Figure 1 table reports."""
    return [f"{RUN_ROOT}/{path}/eval.json" for path in GROUPS["replication"]
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
        f"{RUN_ROOT}/{{run}}/run.yaml",
    params:
        config=lambda wildcards: RUNS[wildcards.run].config,
    run:
        with open(output[0], "w") as handle:
            yaml.safe_dump(params.config, handle, sort_keys=False)


rule data:
    output:
        f"{RESULTS}/data/{{dataset}}.json",
    log:
        f"{RESULTS}/logs/data-{{dataset}}.log",
    shell:
        "gpbench data {wildcards.dataset} --data-root {DATA_ROOT} --out {output} > {log} 2>&1"


rule prepare_metrics:
    input:
        f"{RESULTS}/data/{{dataset}}.json",
    output:
        f"{RESULTS}/data/{{dataset}}-metrics.json",
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
        "--out {output} > {log} 2>&1"


rule train:
    input:
        config=f"{RUN_ROOT}/{{run}}/run.yaml",
        data=lambda wildcards: [f"{RESULTS}/data/{RUNS[wildcards.run].dataset}.json"]
        if RUNS[wildcards.run].dataset in IMAGE_DATASETS else [],
    output:
        f"{RUN_ROOT}/{{run}}/status.json",
    log:
        f"{RUN_ROOT}/{{run}}/train.log",
    benchmark:
        f"{RUN_ROOT}/{{run}}/train.benchmark.tsv"
    threads: THREADS
    resources:
        gpu=lambda wildcards: int(needs_gpu(RUNS[wildcards.run].dataset)),
    shell:
        "gpbench train {input.config} --out {RUN_ROOT}/{wildcards.run} > {log} 2>&1"


rule eval:
    input:
        status=f"{RUN_ROOT}/{{run}}/status.json",
        prepared=prepared,
    output:
        f"{RUN_ROOT}/{{run}}/eval.json",
    log:
        f"{RUN_ROOT}/{{run}}/eval.log",
    threads: THREADS
    resources:
        gpu=lambda wildcards: int(needs_gpu(RUNS[wildcards.run].dataset)),
    params:
        options=lambda wildcards: eval_options(RUNS[wildcards.run].dataset),
    shell:
        "gpbench eval {RUN_ROOT}/{wildcards.run} {params.options} > {log} 2>&1"


rule table:
    input:
        lambda wildcards: expand(f"{RUN_ROOT}/{{run}}/eval.json", run=GROUPS[wildcards.group]),
    output:
        expand(f"{RESULTS}/tables/{{{{group}}}}.{{ext}}", ext=["md", "csv", "tex"]),
    wildcard_constraints:
        group="replication|flex",
    params:
        caption=CAPTION,
    shell:
        "gpbench table {wildcards.group} {input} --out {RESULTS}/tables/{wildcards.group} --caption {params.caption:q} > /dev/null"


rule plots:
    input:
        lambda wildcards: expand(f"{RUN_ROOT}/{{run}}/eval.json", run=[
            path for path in GROUPS["flex" if wildcards.prefix else "replication"]
            if RUNS[path].dataset == wildcards.dataset]),
    output:
        f"{RESULTS}/plots/{{prefix}}figure3_{{dataset}}.png",
        f"{RESULTS}/plots/{{prefix}}curves_{{dataset}}.png",
    wildcard_constraints:
        prefix="(flex_)?",
    shell:
        "gpbench plot {input} --out {RESULTS}/plots --prefix '{wildcards.prefix}' > /dev/null"


rule figure1:
    output:
        f"{RUN_ROOT}/figure1/figure1.json",
        expand(f"{RESULTS}/plots/figure1_{{name}}.png", name=["value_surfaces", "gradient_norms", "weights"]),
    log:
        f"{RESULTS}/logs/figure1.log",
    threads: THREADS
    params:
        settings=" ".join(f"--set {key}={value}" for key, value in (config.get("figure1") or {}).items()),
    shell:
        "gpbench figure1 run {params.settings} --out {RUN_ROOT}/figure1 --plots {RESULTS}/plots > {log} 2>&1"


rule figure1_table:
    input:
        results=f"{RUN_ROOT}/figure1/figure1.json",
        evals=toy_gan_evals,
    output:
        f"{RESULTS}/tables/figure1.md",
        f"{RESULTS}/tables/figure1.csv",
    params:
        caption=CAPTION,
    shell:
        "gpbench figure1 table {input.results} {input.evals} --out {RESULTS}/tables/figure1 --caption {params.caption:q} > /dev/null"
