# Retrain mode: one job per budget trains a CNN on the originals and the chosen
# points' copies, featurizes, fits and evaluates on the poisoned test set.
# (Frozen-mode datasets evaluate every budget of the curves of all seeds in one selection job.)


rule retrain:
    input:
        task="results/{dataset}/task.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
    output:
        result="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.json",
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings{budget}.tsv",
    log:
        "results/logs/retrain/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(NESTED),
    group:
        "selection"
    conda:
        ENV
    threads: featurizer_threads
    resources:
        mem_mb=mem_mb("retrain"),
        runtime=runtime("retrain"),
        gpu=GPUS,
    params:
        threads=featurizer_threads,
        library=library_hash("retrain"),
        provenance=provenance("retrain"),
        kernels=KERNELS,
        settings=settings_for("fit"),
        augmentation=augmentation_params,
        featurizer=featurizer_params,
    script:
        "../scripts/retrain.py"


use rule retrain as retrain_update with:
    input:
        task="results/{dataset}/task.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        previous=previous_state,
    output:
        result="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.json",
        state="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/state{budget}.h5",
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings{budget}.tsv",
    log:
        "results/logs/retrain_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(UPDATE),
    params:
        threads=featurizer_threads,
        library=library_hash("retrain"),
        provenance=provenance("retrain"),
        kernels=KERNELS,
        settings=settings_for("update"),
        augmentation=augmentation_params,
        featurizer=featurizer_params,


use rule retrain as retrain_kdpp with:
    input:
        task="results/{dataset}/task.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    log:
        "results/logs/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(KDPP),
