# effaug: efficient augmentation via data subsampling (Kuchnik & Smith, ICLR 2019).
# Thin entry point: all configuration logic lives in workflow/rules/common.smk.

from snakemake.utils import min_version, validate

min_version("9.0")


# A --configfile replaces the embedded default rather than being merged into it.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/scores.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/retrain.smk"
include: "workflow/rules/aggregate.smk"


report: landing_page()


localrules:
    all,


rule all:
    default_target: True
    input:
        final_outputs(),
