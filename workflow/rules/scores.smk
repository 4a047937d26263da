# Per-point scores of the originals and the reference accuracies.


rule scores:
    input:
        features="results/{dataset}/{augmentation}/features.h5",
    output:
        scores="results/{dataset}/{augmentation}/scores.h5",
    params:
        settings=experiment_settings(),
    log:
        "results/logs/scores/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/scores/{dataset}/{augmentation}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        ENV
    script:
        "../scripts/scores.py"


rule references:
    input:
        data=retrain_inputs,
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        references="results/{dataset}/{augmentation}/references.json",
    params:
        settings=experiment_settings(),
        mode=MODE,
        augmentation=augmentation_params,
        featurizer=lambda wildcards: featurizer_spec(wildcards.dataset),
    log:
        "results/logs/references/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/references/{dataset}/{augmentation}.tsv"
    threads: job_threads
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        ENV
    script:
        "../scripts/references.py"
