# Curves, AUC and summary tables, figures. Small and fast: they run on the
# submitting machine, never as cluster jobs.


localrules:
    curves,
    all_curves,
    auc_table,
    summary,
    accuracy_figure,
    score_histograms,
    before_after_figure,
    extremes_figure,
    epoch_time_figure,
    report_landing,


rule curves:
    input:
        results=result_files,
        missing_budgets=missing_budget_files,
        references="results/{dataset}/{augmentation}/references.json",
    output:
        curves="results/{dataset}/{augmentation}/curves.csv",
    log:
        "results/logs/curves/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/curves/{dataset}/{augmentation}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        library=library_hash("curves"),
        provenance=provenance("tables"),
        policies=list(POLICIES),
        scores=SCORES,
    script:
        "../scripts/curves.py"


rule all_curves:
    input:
        curves=[
            f"results/{dataset}/{augmentation}/curves.csv"
            for dataset in DATASETS
            for augmentation in augmentations_of(dataset)
        ],
    output:
        curves="results/curves.csv",
    log:
        "results/logs/all_curves.log",
    benchmark:
        "results/benchmarks/all_curves.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        library=library_hash("all_curves"),
    script:
        "../scripts/all_curves.py"


rule auc_table:
    input:
        curves="results/{dataset}/{augmentation}/curves.csv",
    output:
        csv=report(
            "results/{dataset}/{augmentation}/{score}/auc.csv",
            caption="../report/auc_table.rst",
            category="AUC tables",
            subcategory="{dataset}",
            labels={"augmentation": "{augmentation}", "score": "{score}"},
        ),
        kdpp_csv="results/{dataset}/{augmentation}/{score}/auc_kdpp.csv",
        markdown="results/{dataset}/{augmentation}/{score}/auc.md",
        latex="results/{dataset}/{augmentation}/{score}/auc.tex",
    log:
        "results/logs/auc_table/{dataset}/{augmentation}/{score}.log",
    benchmark:
        "results/benchmarks/auc_table/{dataset}/{augmentation}/{score}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        library=library_hash("auc_table"),
    script:
        "../scripts/auc_table.py"


rule summary:
    input:
        curves=lambda wildcards: [
            f"results/{wildcards.dataset}/{augmentation}/curves.csv"
            for augmentation in augmentations_of(wildcards.dataset)
        ],
        references=lambda wildcards: [
            f"results/{wildcards.dataset}/{augmentation}/references.json"
            for augmentation in augmentations_of(wildcards.dataset)
        ],
    output:
        csv=report(
            "results/{dataset}/summary.csv",
            caption="../report/summary.rst",
            category="Summary tables",
            subcategory="{dataset}",
            labels={"table": "summary"},
        ),
        markdown="results/{dataset}/summary.md",
        latex="results/{dataset}/summary.tex",
    log:
        "results/logs/summary/{dataset}.log",
    benchmark:
        "results/benchmarks/summary/{dataset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        library=library_hash("summary"),
        provenance=provenance("tables"),
        fractions=EXPERIMENT["summary_fractions"],
        n_train=lambda wildcards: DATASETS[wildcards.dataset]["n_train"],
    script:
        "../scripts/summary.py"


rule accuracy_figure:
    input:
        curves="results/{dataset}/{augmentation}/curves.csv",
        references="results/{dataset}/{augmentation}/references.json",
    output:
        png=report(
            "results/{dataset}/{augmentation}/figures/accuracy_{score}.png",
            caption="../report/accuracy.rst",
            category="Accuracy curves",
            subcategory="{dataset}",
            labels={"augmentation": "{augmentation}", "score": "{score}"},
        ),
        pdf="results/{dataset}/{augmentation}/figures/accuracy_{score}.pdf",
    log:
        "results/logs/accuracy_figure/{dataset}/{augmentation}/{score}.log",
    benchmark:
        "results/benchmarks/accuracy_figure/{dataset}/{augmentation}/{score}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        library=library_hash("accuracy_figure"),
        provenance=provenance("tables"),
        budget_axis=config["figures"]["budget_axis"],
    script:
        "../scripts/accuracy_figure.py"


rule score_histograms:
    input:
        scores=originals_scores,
    output:
        png=report(
            "results/{dataset}/figures/score_histograms.png",
            caption="../report/score_histograms.rst",
            category="Scores",
            subcategory="{dataset}",
            labels={"figure": "histograms", "augmentation": "any", "score": "all"},
        ),
        pdf="results/{dataset}/figures/score_histograms.pdf",
    log:
        "results/logs/score_histograms/{dataset}.log",
    benchmark:
        "results/benchmarks/score_histograms/{dataset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        library=library_hash("score_histograms"),
        provenance=provenance("tables"),
        scores=SCORES,
    script:
        "../scripts/score_histograms.py"


rule before_after_figure:
    input:
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        png=report(
            "results/{dataset}/{augmentation}/figures/before_after.png",
            caption="../report/before_after.rst",
            category="Scores",
            subcategory="{dataset}",
            labels={"figure": "before/after full augmentation", "augmentation": "{augmentation}", "score": "all"},
        ),
        pdf="results/{dataset}/{augmentation}/figures/before_after.pdf",
    log:
        "results/logs/before_after_figure/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/before_after_figure/{dataset}/{augmentation}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        library=library_hash("before_after_figure"),
        provenance=provenance("tables"),
        scores=SCORES,
    script:
        "../scripts/before_after_figure.py"


rule extremes_figure:
    input:
        task="results/{dataset}/task.h5",
        scores=originals_scores,
    output:
        png=report(
            "results/{dataset}/figures/extremes_{score}.png",
            caption="../report/extremes.rst",
            category="Scores",
            subcategory="{dataset}",
            labels={"figure": "extremes", "augmentation": "any", "score": "{score}"},
        ),
        pdf="results/{dataset}/figures/extremes_{score}.pdf",
    log:
        "results/logs/extremes_figure/{dataset}/{score}.log",
    benchmark:
        "results/benchmarks/extremes_figure/{dataset}/{score}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        library=library_hash("extremes_figure"),
        provenance=provenance("tables"),
    script:
        "../scripts/extremes_figure.py"


rule epoch_timing:
    input:
        task="results/{dataset}/task.h5",
    output:
        timing="results/{dataset}/epoch_time.tsv",
    log:
        "results/logs/epoch_timing/{dataset}.log",
    benchmark:
        "results/benchmarks/epoch_timing/{dataset}.tsv"
    conda:
        ENV
    threads: featurizer_threads
    resources:
        mem_mb=mem_mb("epoch_timing"),
        runtime=runtime("epoch_timing"),
        gpu=GPUS,
    params:
        library=library_hash("epoch_timing"),
        provenance=provenance("tables"),
        featurizer=featurizer_params,
        augmentation=lambda wildcards: timing_augmentation(wildcards.dataset),
        augmentation_params=lambda wildcards: DATASETS[wildcards.dataset]["augmentations"][
            timing_augmentation(wildcards.dataset)
        ],
        budgets=lambda wildcards: timing_budgets(wildcards.dataset),
        repeats=EXPERIMENT["epoch_timing"]["repeats"],
    script:
        "../scripts/epoch_timing.py"


rule epoch_time_figure:
    input:
        timing="results/{dataset}/epoch_time.tsv",
    output:
        png=report(
            "results/{dataset}/figures/epoch_time.png",
            caption="../report/epoch_time.rst",
            category="Cost",
            subcategory="{dataset}",
            labels={"figure": "seconds per epoch"},
        ),
        pdf="results/{dataset}/figures/epoch_time.pdf",
    log:
        "results/logs/epoch_time_figure/{dataset}.log",
    benchmark:
        "results/benchmarks/epoch_time_figure/{dataset}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        library=library_hash("epoch_time_figure"),
        full_augmentation=full_augmentation_images,
    script:
        "../scripts/epoch_time_figure.py"


rule report_landing:
    input:
        summaries=expand("results/{dataset}/summary.csv", dataset=DATASETS),
        figure="results/{0}/{1}/figures/accuracy_{2}.png".format(*MAIN_FIGURE),
    output:
        rst="results/report/workflow.rst",
    log:
        "results/logs/report_landing.log",
    benchmark:
        "results/benchmarks/report_landing.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        library=library_hash("report_landing"),
        template_text=lambda wildcards: LANDING_TEMPLATE,
        datasets=list(DATASETS),
        fractions=EXPERIMENT["summary_fractions"],
        figure_caption="Accuracy on the poisoned test set against the number of augmented training points: "
        "dataset {0}, augmentation {1}, policies driven by score {2}.".format(*MAIN_FIGURE),
    script:
        "../scripts/report_landing.py"
