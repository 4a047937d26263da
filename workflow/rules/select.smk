# Selection: per (score, policy, seed) an ordering of the points (or one draw
# per budget), and the result of every budget.
#
# Frozen mode (the features are fixed): one `selection` job per curve writes
# the order and every budget<k>.json; a budget costs a fraction of a second,
# less than a process start. Retrain mode (a CNN per budget): one `order` job,
# then one job per budget (retrain.smk).


rule selection:
    group:
        "selection"
    input:
        data="results/{dataset}/data.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
        results=curve_results(),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(NESTED),
    params:
        threads=1,
        library=library_hash("selection"),
        provenance=provenance("selection"),
        kernels=KERNELS,
        settings=selection_settings,
        budgets=BUDGETS,
    log:
        "results/logs/selection/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb("selection"),
        runtime=runtime("selection"),
    conda:
        ENV
    script:
        "../scripts/selection.py"


use rule selection as selection_update with:
    input:
        data="results/{dataset}/data.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        results=curve_results(),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(UPDATE),
    log:
        "results/logs/selection_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"


use rule selection as selection_kdpp with:
    input:
        data="results/{dataset}/data.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    output:
        results=curve_results(),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(KDPP),
    log:
        "results/logs/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"


rule order:
    group:
        "selection"
    input:
        data="results/{dataset}/data.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(NESTED),
    params:
        library=library_hash("order"),
        provenance=provenance("order"),
        kernels=KERNELS,
        settings=order_settings,
    log:
        "results/logs/order/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/order/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../scripts/order.py"


rule kdpp_kernel:
    input:
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    wildcard_constraints:
        policy=names_regex(KDPP),
    params:
        threads=linear_algebra_threads,
        library=library_hash("kdpp_kernel"),
        provenance=provenance("kdpp_kernel"),
        kernels=KERNELS,
        epsilon=EXPERIMENT["kdpp"]["epsilon"],
    log:
        "results/logs/kdpp_kernel/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/kdpp_kernel/{dataset}/{augmentation}/{score}/{policy}.tsv"
    threads: linear_algebra_threads
    resources:
        mem_mb=mem_mb("kdpp_kernel"),
        runtime=runtime("kdpp_kernel"),
    conda:
        ENV
    script:
        "../scripts/kdpp_kernel.py"
