# Selection: per (score, policy, seed) an ordering of the points (or one draw
# per budget), and the result of every budget.
#
# Frozen mode (the features are fixed): one job per (score, policy) computes
# the curves of all its seeds and writes each curve's order, budget<k>.json
# and timings; a curve costs about a second, less than a job's start. The
# files stay one folder per curve, so a changed setting or an added seed
# re-runs the jobs of the policies it touches, each with all its seeds.
# The det-* policies have one curve each (seed 0): one
# `selection_deterministic` job per (augmentation, score) computes them all.
# Retrain mode (a CNN per budget) has the same jobs and files, with a CNN
# training per budget (retrain.smk).


rule selection:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        order=curve_files("order.tsv", SEEDS),
        results=curve_files(budget_files(BUDGETS), SEEDS),
        curve=curve_files("curve.json", SEEDS),
        timings=curve_files("timings.tsv", SEEDS),
    log:
        "results/logs/selection/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/selection/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(NESTED, STOCHASTIC),
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
        provenance=curves_provenance("selection", SEEDS),
        kernels=KERNELS,
        settings=selection_settings_by_policy,
        budgets=BUDGETS,
        policies=job_policy,
        seeds=SEEDS,
        mode="frozen",
    script:
        "../scripts/selection.py"


if DETERMINISTIC_CURVES:  # a rule without outputs is not allowed

    use rule selection as selection_deterministic with:
        output:
            order=deterministic_curve_files("order.tsv", nested_only=True),
            results=deterministic_curve_files(budget_files(BUDGETS)),
            curve=deterministic_curve_files("curve.json"),
            timings=deterministic_curve_files("timings.tsv"),
        log:
            "results/logs/selection_deterministic/{dataset}/{augmentation}/{score}.log",
        benchmark:
            "results/benchmarks/selection_deterministic/{dataset}/{augmentation}/{score}.tsv"
        wildcard_constraints:
            dataset=names_regex(FROZEN),
            score=names_regex(SCORES),
        params:  # keyword params merge with selection's: these change
            policies=DETERMINISTIC_CURVES,
            provenance=curves_provenance("selection", [0], DETERMINISTIC_CURVES),
            seeds=[0],


use rule selection as selection_update with:
    output:
        results=curve_files(budget_files(BUDGETS), SEEDS),
        curve=curve_files("curve.json", SEEDS),
        timings=curve_files("timings.tsv", SEEDS),
    log:
        "results/logs/selection_update/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/selection_update/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(UPDATE, STOCHASTIC),


use rule selection as selection_kdpp with:
    input:
        task="results/{dataset}/task.h5",
        features="results/{dataset}/{augmentation}/features.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
        kernel="results/{dataset}/{augmentation}/{score}/{policy}/kernel.h5",
    output:
        results=curve_files(budget_files(KDPP_BUDGETS), SEEDS),
        curve=curve_files("curve.json", SEEDS),
        timings=curve_files("timings.tsv", SEEDS),
    log:
        "results/logs/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/selection_kdpp/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(FROZEN),
        policy=names_regex(KDPP),
    params:  # merged with selection's
        budgets=KDPP_BUDGETS,


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
