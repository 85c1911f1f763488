# Tables over the runs and the claims table; each also a page of the report.


rule health:
    input:
        diagnoses(list(RUNS)),
    output:
        expand(f"{RESULTS}/tables/health.{{ext}}", ext=["md", "csv", "tex"]),
        report(f"{RESULTS}/tables/health.html", caption="../report/health.rst", category=category("Health")),
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
        report(f"{RESULTS}/tables/{{group}}.html", caption="../report/table.rst", category=category("Tables")),
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


rule claims:
    input:
        figure1=rules.figure1.output.results if "figure1" in config else [],
        evals=evals(toy_gan_runs()) if "figure1" in config else [],
        figure4=evals(GROUPS["figure4"]),         # Fig. 4a ranks the snapshots' sample metric: evaluated runs
        architectures=evals(architecture_runs()),
    output:
        f"{RESULTS}/tables/claims.md",
        f"{RESULTS}/tables/claims.csv",
        report(f"{RESULTS}/tables/claims.html", caption="../report/claims.rst", category=category("Claims")),
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
