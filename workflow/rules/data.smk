# Datasets: the real files (or, in a rehearsal, synthetic ones in their formats) and the reference statistics
# the metrics compare against.


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


rule inception_weights:
    output:
        FETCHED_WEIGHTS or f"{DATA_ROOT}/{INCEPTION_WEIGHTS_FILE}",
    log:
        f"{RESULTS}/logs/inception-weights.log",
    shell:
        "gpbench inception-weights --out {output:q} > {log:q} 2>&1"


rule prepare_metrics:
    input:
        rules.data.output.note,
        lambda wildcards: [FETCHED_WEIGHTS] if FETCHED_WEIGHTS and wildcards.dataset in INCEPTION_DATASETS else [],
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
