# Curves, AUC and summary tables, figures. Small and fast: they run on the
# submitting machine, never as cluster jobs.


localrules:
    curves,
    all_curves,
    auc_table,
    summary,
    accuracy_figure,
    score_figures,
    extremes_figure,
    epoch_time_figure,


rule curves:
    input:
        results=result_files,
        references="results/{dataset}/{augmentation}/references.json",
    output:
        curves="results/{dataset}/{augmentation}/curves.csv",
    params:
        library=library_hash("curves"),
        provenance=provenance("tables"),
        policies=list(POLICIES),
        scores=SCORES,
    log:
        "results/logs/curves/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/curves/{dataset}/{augmentation}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
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
    params:
        library=library_hash("all_curves"),
    log:
        "results/logs/all_curves.log",
    benchmark:
        "results/benchmarks/all_curves.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
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
            subcategory="{dataset} {augmentation}",
            labels={"dataset": "{dataset}", "augmentation": "{augmentation}", "score": "{score}"},
        ),
        markdown="results/{dataset}/{augmentation}/{score}/auc.md",
        latex="results/{dataset}/{augmentation}/{score}/auc.tex",
    params:
        library=library_hash("auc_table"),
    log:
        "results/logs/auc_table/{dataset}/{augmentation}/{score}.log",
    benchmark:
        "results/benchmarks/auc_table/{dataset}/{augmentation}/{score}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
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
            labels={"dataset": "{dataset}"},
        ),
        markdown="results/{dataset}/summary.md",
        latex="results/{dataset}/summary.tex",
    params:
        library=library_hash("summary"),
        provenance=provenance("tables"),
        fractions=EXPERIMENT["summary_fractions"],
        n_train=lambda wildcards: DATASETS[wildcards.dataset]["n_train"],
    log:
        "results/logs/summary/{dataset}.log",
    benchmark:
        "results/benchmarks/summary/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
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
            subcategory="{dataset} {augmentation}",
            labels={"dataset": "{dataset}", "augmentation": "{augmentation}", "score": "{score}"},
        ),
        pdf="results/{dataset}/{augmentation}/figures/accuracy_{score}.pdf",
    params:
        library=library_hash("accuracy_figure"),
        provenance=provenance("tables"),
    log:
        "results/logs/accuracy_figure/{dataset}/{augmentation}/{score}.log",
    benchmark:
        "results/benchmarks/accuracy_figure/{dataset}/{augmentation}/{score}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/accuracy_figure.py"


rule score_figures:
    input:
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        histograms=report(
            "results/{dataset}/{augmentation}/figures/score_histograms.png",
            caption="../report/score_histograms.rst",
            category="Scores",
            subcategory="{dataset} {augmentation}",
            labels={"dataset": "{dataset}", "augmentation": "{augmentation}", "figure": "histograms"},
        ),
        histograms_pdf="results/{dataset}/{augmentation}/figures/score_histograms.pdf",
        before_after=report(
            "results/{dataset}/{augmentation}/figures/before_after.png",
            caption="../report/before_after.rst",
            category="Scores",
            subcategory="{dataset} {augmentation}",
            labels={"dataset": "{dataset}", "augmentation": "{augmentation}", "figure": "before/after"},
        ),
        before_after_pdf="results/{dataset}/{augmentation}/figures/before_after.pdf",
    params:
        library=library_hash("score_figures"),
        provenance=provenance("tables"),
        scores=SCORES,
    log:
        "results/logs/score_figures/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/score_figures/{dataset}/{augmentation}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/score_figures.py"


rule extremes_figure:
    input:
        data="results/{dataset}/data.h5",
        scores="results/{dataset}/{augmentation}/scores.h5",
    output:
        png=report(
            "results/{dataset}/{augmentation}/figures/extremes_{score}.png",
            caption="../report/extremes.rst",
            category="Scores",
            subcategory="{dataset} {augmentation}",
            labels={"dataset": "{dataset}", "augmentation": "{augmentation}", "figure": "extremes {score}"},
        ),
        pdf="results/{dataset}/{augmentation}/figures/extremes_{score}.pdf",
    params:
        library=library_hash("extremes_figure"),
        provenance=provenance("tables"),
    log:
        "results/logs/extremes_figure/{dataset}/{augmentation}/{score}.log",
    benchmark:
        "results/benchmarks/extremes_figure/{dataset}/{augmentation}/{score}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/extremes_figure.py"


rule epoch_timing:
    input:
        data="results/{dataset}/data.h5",
    output:
        timing="results/{dataset}/{augmentation}/epoch_time.tsv",
    params:
        library=library_hash("epoch_timing"),
        provenance=provenance("tables"),
        featurizer=lambda wildcards: featurizer_spec(wildcards.dataset),
        augmentation=augmentation_params,
        budgets=lambda wildcards: timing_budgets(wildcards.dataset),
        epochs=EXPERIMENT["epoch_timing"]["epochs"],
    log:
        "results/logs/epoch_timing/{dataset}/{augmentation}.log",
    benchmark:
        "results/benchmarks/epoch_timing/{dataset}/{augmentation}.tsv"
    threads: featurizer_threads
    resources:
        mem_mb=mem_mb("epoch_timing"),
        runtime=runtime("epoch_timing"),
        gpu=gpus,
    conda:
        ENV
    script:
        "../scripts/epoch_timing.py"


rule epoch_time_figure:
    input:
        timings=lambda wildcards: [
            f"results/{wildcards.dataset}/{augmentation}/epoch_time.tsv"
            for augmentation in augmentations_of(wildcards.dataset)
        ],
    output:
        png=report(
            "results/{dataset}/figures/epoch_time.png",
            caption="../report/epoch_time.rst",
            category="Cost",
            labels={"dataset": "{dataset}"},
        ),
        pdf="results/{dataset}/figures/epoch_time.pdf",
    params:
        library=library_hash("epoch_time_figure"),
    log:
        "results/logs/epoch_time_figure/{dataset}.log",
    benchmark:
        "results/benchmarks/epoch_time_figure/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        ENV
    script:
        "../scripts/epoch_time_figure.py"
