# One run: its config, training, evaluation, diagnosis and last sample picture.


rule run_config:
    output:
        f"{RUN_DIR}/{rundir.PIPELINE_CONFIG}",
    priority: lambda wildcards: PRIORITY[wildcards.run]
    params:
        config=lambda wildcards: RUNS[wildcards.run].config,
    run:
        with open(output[0], "w") as handle:
            yaml.safe_dump(params.config, handle, sort_keys=False)


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


rule sample_picture:
    input:
        lambda wildcards: expand(rules.train.output.done, run=rundir.run_path(wildcards.dataset, wildcards.label,
                                                                               wildcards.seed)),
    output:
        report(SAMPLE_PICTURE, caption="../report/samples.rst", category=category("Samples"), subcategory="{dataset}"),
    log:
        f"{RESULTS}/logs/samples-{{dataset}}_{{label}}_seed{{seed}}.log",
    params:
        run_dir=lambda wildcards: f"{RUN_ROOT}/{rundir.run_path(wildcards.dataset, wildcards.label, wildcards.seed)}",
    shell:
        "gpbench samples {params.run_dir:q} --out {output:q} > {log:q} 2>&1"
