# Orders of the nested policies and k-DPP kernels.


rule order:
    group:
        "selection"
    input:
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order="results/{dataset}/{augmentation}/{score}/{policy}/seed{seed}/order.tsv",
    wildcard_constraints:
        policy=names_regex(NESTED),
    params:
        library=library_hash("order"),
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
