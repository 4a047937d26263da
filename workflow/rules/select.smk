# Selection: per (score, policy, seed) an ordering of the points (or one draw
# per budget), and the result of every budget.
#
# Frozen mode (the features are fixed): one `selection` job per curve writes
# the order and every budget<k>.json; a budget costs a fraction of a second,
# less than a process start. Retrain mode (a CNN per budget): one `order` job,
# then one job per budget (retrain.smk).


rule selection:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
        results=curve_results(BUDGETS),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    log:
        "results/logs/selection/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(NESTED),
    group:
        "selection"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb("selection"),
        runtime=runtime("selection"),
    params:
        threads=1,
        library=library_hash("selection"),
        provenance=provenance("selection"),
        kernels=KERNELS,
        settings=selection_settings,
        budgets=BUDGETS,
    script:
        "../scripts/selection.py"


use rule selection as selection_update with:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        results=curve_results(BUDGETS),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    log:
        "results/logs/selection_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection_update/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(UPDATE),


use rule selection as selection_kdpp with:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    output:
        results=curve_results(KDPP_BUDGETS),
        timings="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/timings.tsv",
    log:
        "results/logs/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(KDPP),
    params:
        budgets=KDPP_BUDGETS,


rule order:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
    log:
        "results/logs/order/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.log",
    benchmark:
        "results/benchmarks/order/{dataset}/{augmentation}/{score}/{policy}/seed{seed}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(NESTED),
    group:
        "selection"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        library=library_hash("order"),
        provenance=provenance("order"),
        kernels=KERNELS,
        settings=order_settings,
    script:
        "../scripts/order.py"


rule kdpp_kernel:
    input:
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    log:
        "results/logs/kdpp_kernel/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/kdpp_kernel/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        policy=names_regex(KDPP),
    conda:
        ENV
    threads: linear_algebra_threads
    resources:
        mem_mb=mem_mb("kdpp_kernel"),
        runtime=runtime("kdpp_kernel"),
    params:
        threads=linear_algebra_threads,
        library=library_hash("kdpp_kernel"),
        provenance=provenance("kdpp_kernel"),
        kernels=KERNELS,
        epsilon=EXPERIMENT["kdpp"]["epsilon"],
        settings=settings_for("kdpp"),
    script:
        "../scripts/kdpp_kernel.py"
