# Featurizer CNN (trained, or the user's model file) and the cached features per augmentation.


rule train_featurizer:
    input:
        featurizer_training_input,
    output:
        model="results/{dataset}/featurizer.keras",
        history=report(
            "results/{dataset}/featurizer_history.tsv",
            caption="../report/featurizer_history.rst",
            category="Featurizer",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "training history"},
        ),
        timings="results/{dataset}/featurizer_timings.tsv",
    log:
        "results/logs/train_featurizer/{dataset}.log",
    benchmark:
        "results/benchmarks/train_featurizer/{dataset}.tsv"
    conda:
        ENV
    threads: featurizer_threads
    resources:
        mem_mb=mem_mb("train_featurizer"),
        runtime=runtime("train_featurizer"),
        gpu=GPUS,
    params:
        library=library_hash("train_featurizer"),
        provenance=provenance("featurizer"),
        kernels=KERNELS,
        featurizer=featurizer_params,
        train_on=lambda wildcards: DATASETS[wildcards.dataset]["featurizer"]["train_on"],
        source=lambda wildcards: DATASETS[wildcards.dataset]["source"],
        path=lambda wildcards: str(dataset_path(wildcards.dataset) or ""),
        options=lambda wildcards: source_options(wildcards.dataset),
        checkpoint_dir=lambda wildcards: f"results/{wildcards.dataset}/featurizer_checkpoint",
    script:
        "../scripts/train_featurizer.py"


rule features:
    input:
        task="results/{dataset}/task.h5",
        model=featurizer_model,
    output:
        features="results/{dataset}/{augmentation}/features.h5",
    log:
        "results/logs/features/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/features/{dataset}/{augmentation}.tsv"
    conda:
        ENV
    threads: featurizer_threads
    resources:
        mem_mb=mem_mb("features"),
        runtime=runtime("features"),
        gpu=GPUS,
    params:
        library=library_hash("features"),
        provenance=provenance("features"),
        kernels=KERNELS,
        augmentation=augmentation_params,
        featurizer=featurizer_params,
    script:
        "../scripts/features.py"
