# Data: explicit downloads for real use, then the task of each dataset (task.h5).


rule download_source:
    output:
        record="results/downloads/{source}.tsv",
    log:
        "results/logs/download_source/{source}.log",
    benchmark:
        "results/benchmarks/download_source/{source}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,
    params:
        library=library_hash("download"),
        files=lambda wildcards: remote_files(wildcards.source),
        directory=lambda wildcards: str(DATA_ROOT / ds.DOWNLOAD_DIRS[wildcards.source]),
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
        task="results/{dataset}/task.h5",
    log:
        "results/logs/task/{dataset}.log",
    benchmark:
        "results/benchmarks/task/{dataset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb("task"),
        runtime=runtime("task"),
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
    script:
        "../scripts/task.py"
