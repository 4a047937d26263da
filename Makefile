# Two commands on a fresh machine (Python 3.11 and the package registries):
#   make run    set up .venv and run the workflow on the embedded default data
#   make test   set up .venv and run the whole test suite

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup run test lint rulegraph clean benchmark

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "effaug needs Python 3.11; set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html
	@echo
	@echo "Done. Outputs are under results/ (see README.md, 'Where outputs land'):"
	@echo "  report:  results/report.html"
	@echo "  curves:  results/curves.csv"
	@echo "  summary: $$(ls results/*/summary.md | tr '\n' ' ')"
	@echo "  AUC:     $$(ls results/*/*/*/auc.md | tr '\n' ' ')"
	@echo "  figures: $$(ls -d results/*/figures results/*/*/figures | tr '\n' ' ')"

test: setup
	$(BIN)/pytest

# Speed benchmarks -> docs/benchmarks.md (about 30 minutes on 2 cores; the MNIST grid reads the original
# MNIST files under DATA_ROOT; pyDVL and DPPy get their own virtual environments under benchmarks/)
DATA_ROOT ?= resources
benchmark: setup
	$(BIN)/python benchmarks/influence.py
	$(BIN)/python benchmarks/influence.py --multiclass
	$(BIN)/python benchmarks/kdpp.py
	$(BIN)/python benchmarks/kernels.py
	$(BIN)/python benchmarks/workflow.py planning
	$(BIN)/python benchmarks/workflow.py overhead
	$(BIN)/python benchmarks/workflow.py grid --data-root $(DATA_ROOT)
	$(BIN)/python benchmarks/retrain_cost.py --data-root $(DATA_ROOT)
	$(BIN)/python benchmarks/report.py

# snakefmt (settings in pyproject.toml) and Snakemake's own linter, both must be clean
lint: setup
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

# the picture of the workflow's rules in the README (needs Graphviz's dot)
rulegraph: setup
	$(BIN)/snakemake --rulegraph --quiet all | dot -Tpng -Gdpi=110 -o docs/img/rulegraph.png

clean:
	rm -rf results .snakemake
