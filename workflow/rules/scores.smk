# Per-point scores of the originals and the reference accuracies.


rule scores:
    input:
        features="results/{dataset}/{augmentation}/features.h5",
    output:
        scores="results/{dataset}/{augmentation}/scores.h5",
    params:
        threads=linear_algebra_threads,
        library=library_hash("scores"),
        provenance=provenance("scores"),
        kernels=KERNELS,
        settings=settings_for("scores"),
    log:
        "results/logs/scores/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/scores/{dataset}/{augmentation}.tsv"
    threads: linear_algebra_threads
    resources:
        mem_mb=mem_mb("scores"),
        runtime=runtime("scores"),
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
        threads=reference_threads,
        library=library_hash("references"),
        provenance=provenance("references"),
        kernels=KERNELS,
        settings=settings_for("fit"),
        mode=mode_of,
        augmentation=augmentation_params,
        featurizer=lambda wildcards: featurizer_spec(wildcards.dataset),
    log:
        "results/logs/references/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/references/{dataset}/{augmentation}.tsv"
    threads: reference_threads
    resources:
        mem_mb=mem_mb("references"),
        runtime=runtime("references"),
    conda:
        ENV
    script:
        "../scripts/references.py"
