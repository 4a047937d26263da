# One job per budget: augment the chosen points, fit, evaluate on the poisoned test set.


rule retrain:
    group:
        "selection"
    input:
        data=retrain_inputs,
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
    output:
        result="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.json",
    wildcard_constraints:
        policy=names_regex(NESTED),
    params:
        threads=budget_threads,
        library=library_hash("retrain"),
        settings=settings_for("fit"),
        mode=MODE,
        augmentation=augmentation_params,
        featurizer=lambda wildcards: featurizer_spec(wildcards.dataset),
    log:
        "results/logs/retrain/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"
    threads: budget_threads
    resources:
        mem_mb=mem_mb("retrain"),
        runtime=runtime("retrain"),
        gpu=budget_gpus,
    conda:
        ENV
    script:
        "../scripts/retrain.py"


use rule retrain as retrain_update with:
    input:
        data=retrain_inputs,
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        previous=previous_state,
    output:
        result="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.json",
        state="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/state{budget}.h5",
    wildcard_constraints:
        policy=names_regex(UPDATE),
    params:
        threads=budget_threads,
        library=library_hash("retrain"),
        settings=settings_for("update"),
        mode=MODE,
        augmentation=augmentation_params,
        featurizer=lambda wildcards: featurizer_spec(wildcards.dataset),
    log:
        "results/logs/retrain_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"


use rule retrain as retrain_kdpp with:
    input:
        data=retrain_inputs,
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    wildcard_constraints:
        policy=names_regex(KDPP),
    log:
        "results/logs/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.log",
    benchmark:
        "results/benchmarks/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/budget{budget}.tsv"
