# gpbench pipeline: suite config -> runs -> train -> eval -> tables and plots.
#   snakemake --cores all                                  # full replication (configs/paper.yaml)
#   snakemake --cores all --configfile configs/quick.yaml  # CPU quick suite
# Rules are thin: each calls a `gpbench` verb. The suite config and the helpers live in workflow/rules/common.smk,
# the rules in workflow/rules/{data,runs,figures,tables}.smk, the report's captions in workflow/report/.

include: "workflow/rules/common.smk"

report: "workflow/report/workflow.rst"


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


include: "workflow/rules/data.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
