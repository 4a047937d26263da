# Data: explicit downloads for real use, then the task (two or more classes) of each dataset.


rule download_source:
    output:
        record="results/downloads/{source}.tsv",
    params:
        library=library_hash("download"),
        files=lambda wildcards: remote_files(wildcards.source),
        directory=lambda wildcards: str(DATA_ROOT / DOWNLOAD_DIRS[wildcards.source]),
    log:
        "results/logs/download_source/{source}.log",
    benchmark:
        "results/benchmarks/download_source/{source}.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,
    conda:
        ENV
    script:
        "../scripts/download.py"


localrules:
    download,


rule download:
    input:
        expand("results/downloads/{source}.tsv", source=downloadable_sources()),


rule task:
    input:
        dataset_files,
    output:
        data="results/{dataset}/data.h5",
    params:
        library=library_hash("task"),
        provenance=provenance("task"),
        source=lambda wildcards: DATASETS[wildcards.dataset]["source"],
        path=lambda wildcards: str(dataset_path(wildcards.dataset) or ""),
        classes=lambda wildcards: DATASETS[wildcards.dataset]["classes"],
        n_train=lambda wildcards: DATASETS[wildcards.dataset]["n_train"],
        train_subset=lambda wildcards: DATASETS[wildcards.dataset]["train_subset"],
        train_subset_seed=lambda wildcards: DATASETS[wildcards.dataset]["train_subset_seed"],
        options=lambda wildcards: source_options(wildcards.dataset),
    log:
        "results/logs/task/{dataset}.log",
    benchmark:
        "results/benchmarks/task/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("task"),
        runtime=runtime("task"),
    conda:
        ENV
    script:
        "../scripts/task.py"
