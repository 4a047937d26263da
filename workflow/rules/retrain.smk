# Retrain mode: the curve jobs of select.smk, with a CNN per budget. Each job
# trains, per curve and budget, a CNN on the originals and the chosen points'
# copies, featurizes, fits and evaluates on the poisoned test set. The CNNs
# are kept in results/<dataset>/<augmentation>/retrain_cache/: curves that
# augment the same set with the same CNN seed share one training, and a job
# run again after an interruption loads the CNNs it had already trained.


rule retrain:
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
        "results/logs/retrain/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/retrain/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(NESTED, STOCHASTIC),
    conda:
        ENV
    threads: featurizer_threads
    resources:
        mem_mb=retrain_mem_mb(len(SEEDS), BUDGETS),
        runtime=retrain_runtime(len(SEEDS), BUDGETS),
        gpu=GPUS,
    params:
        threads=featurizer_threads,
        library=library_hash("selection"),
        provenance=curves_provenance("retrain", SEEDS),
        kernels=KERNELS,
        settings=selection_settings_by_policy,
        budgets=BUDGETS,
        policies=job_policy,
        seeds=SEEDS,
        augmentation=augmentation_params,
        featurizer=featurizer_params,
        mode="retrain",
    script:
        "../scripts/selection.py"


if DETERMINISTIC_CURVES:

    use rule retrain as retrain_deterministic with:
        output:
            order=deterministic_curve_files("order.tsv", nested_only=True),
            results=deterministic_curve_files(budget_files(BUDGETS)),
            curve=deterministic_curve_files("curve.json"),
            timings=deterministic_curve_files("timings.tsv"),
        log:
            "results/logs/retrain_deterministic/{dataset}/{augmentation}/{score}.log",
        benchmark:
            "results/benchmarks/retrain_deterministic/{dataset}/{augmentation}/{score}.tsv"
        wildcard_constraints:
            dataset=names_regex(RETRAIN),
            score=names_regex(SCORES),
        resources:
            mem_mb=retrain_mem_mb(len(DETERMINISTIC_CURVES), BUDGETS),
            runtime=retrain_runtime(len(DETERMINISTIC_CURVES), BUDGETS),
            gpu=GPUS,
        params:
            policies=DETERMINISTIC_CURVES,
            provenance=curves_provenance("retrain", [0], DETERMINISTIC_CURVES),
            seeds=[0],


use rule retrain as retrain_update with:
    output:
        results=curve_files(budget_files(BUDGETS), SEEDS),
        curve=curve_files("curve.json", SEEDS),
        timings=curve_files("timings.tsv", SEEDS),
    log:
        "results/logs/retrain_update/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/retrain_update/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(UPDATE, STOCHASTIC),


use rule retrain as retrain_kdpp with:
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
        "results/logs/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}.log",
    benchmark:
        "results/benchmarks/retrain_kdpp/{dataset}/{augmentation}/{score}/{policy}.tsv"
    wildcard_constraints:
        dataset=names_regex(RETRAIN),
        policy=names_regex(KDPP),
    resources:
        mem_mb=retrain_mem_mb(len(SEEDS), KDPP_BUDGETS),
        runtime=retrain_runtime(len(SEEDS), KDPP_BUDGETS),
        gpu=GPUS,
    params:
        budgets=KDPP_BUDGETS,
