# Plots over several runs, and the experiments that are not runs (Figure 1's critic surfaces, the Dirac-GAN).


rule plots:
    input:
        lambda wildcards: evals([path for path in GROUPS["flex" if wildcards.prefix else "replication"]
                                 if RUNS[path].dataset == wildcards.dataset]),
    output:
        report(f"{RESULTS}/plots/{{prefix}}figure3_{{dataset}}.png", caption="../report/figure3.rst",
               category=category("Figure 3"), subcategory="{prefix}{dataset}"),
        report(f"{RESULTS}/plots/{{prefix}}curves_{{dataset}}.png", caption="../report/curves.rst",
               category=category("Training curves"), subcategory="{prefix}{dataset}"),
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
        report(f"{RESULTS}/plots/figure2_grid_{{dataset}}.png", caption="../report/grid.rst",
               category=category("Architectures (Figure 2, Table 1)")),
    log:
        f"{RESULTS}/logs/grid-{{dataset}}.log",
    params:
        runs=lambda wildcards: [f"{RUN_ROOT}/{path}" for path in GROUPS["architectures"]
                                if RUNS[path].dataset == wildcards.dataset],
    shell:
        "gpbench grid {params.runs:q} --out {output:q} > {log:q} 2>&1"


rule figure1:
    output:
        results=f"{RUN_ROOT}/figure1/figure1.json",
        plots=[report(f"{RESULTS}/plots/figure1_{name}.png", caption="../report/figure1.rst",
                      category=category("Figure 1")) for name in ("value_surfaces", "gradient_norms", "weights")],
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
        page=report(f"{DIRAC}.html", caption="../report/dirac.rst", category=category("Dirac-GAN")),
        plot=report(f"{DIRAC}.png", caption="../report/dirac.rst", category=category("Dirac-GAN")),
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
        report(f"{RESULTS}/plots/figure4_overfitting.png", caption="../report/figure4.rst",
               category=category("Figure 4")),
    log:
        f"{RESULTS}/logs/figure4.log",
    params:
        runs=[f"{RUN_ROOT}/{path}" for path in GROUPS["figure4"]],
    shell:
        "gpbench figure4 {params.runs:q} --out {output:q} > {log:q} 2>&1"
