# Per-point scores of the originals and the reference accuracies.


rule scores:
    input:
        features="results/{dataset}/{augmentation}/features.h5",
    output:
        scores="results/{dataset}/{augmentation}/scores.h5",
    log:
        "results/logs/scores/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/scores/{dataset}/{augmentation}.tsv"
    conda:
        ENV
    threads: linear_algebra_threads
    resources:
        mem_mb=mem_mb("scores"),
        runtime=runtime("scores"),
    params:
        threads=linear_algebra_threads,
        library=library_hash("scores"),
        provenance=provenance("scores"),
        kernels=KERNELS,
        settings=settings_for("scores"),
    script:
        "../scripts/scores.py"


rule references:
    input:
        task=retrain_inputs,
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        references="results/{dataset}/{augmentation}/references.json",
    log:
        "results/logs/references/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/references/{dataset}/{augmentation}.tsv"
    conda:
        ENV
    threads: reference_threads
    resources:
        mem_mb=mem_mb("references"),
        runtime=runtime("references"),
    params:
        threads=reference_threads,
        library=library_hash("references"),
        provenance=provenance("references"),
        kernels=KERNELS,
        settings=settings_for("fit"),
        mode=mode_of,
        augmentation=augmentation_params,
        featurizer=featurizer_params,
    script:
        "../scripts/references.py"
