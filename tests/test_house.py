"""House rules of the library's structure."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import effaug

LIBRARY = Path(effaug.__file__).parent


def module_names() -> list[str]:
    """Every module of effaug, packages included, by dotted name."""
    return ["effaug"] + [info.name for info in pkgutil.walk_packages([str(LIBRARY)], "effaug.")]


def module_file(name: str) -> Path:
    path = LIBRARY.joinpath(*name.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def resolve(name: str, known: set[str]) -> str | None:
    """The effaug module an imported dotted name is, or lives in (``effaug.x.f`` -> ``effaug.x``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(name: str, known: set[str]) -> set[str]:
    """The effaug modules that module ``name`` imports anywhere (functions included):
    ``from effaug.a import b`` is ``effaug.a.b`` where that is a module, else ``effaug.a``."""
    tree = ast.parse(module_file(name).read_text())
    package = name if module_file(name).name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {resolve(alias.name, known) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up node.level - 1 packages from this module's own
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found |= {resolve(f"{base}.{alias.name}", known) for alias in node.names}
    return {m for m in found if m is not None and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a list of nodes (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_imports_first_in_a_fresh_interpreter():
    """Each module imported before any other: a cycle through effaug's lazy attributes (``from effaug import
    scores`` loading the API) only shows when the modules on it are not already loaded."""
    failed = {}
    for name in module_names():
        result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True)
        if result.returncode:
            failed[name] = result.stderr.strip().splitlines()[-1]
    assert failed == {}


def test_import_graph_has_no_cycle():
    known = set(module_names())
    graph = {name: imported_modules(name, known) for name in known}
    # the graph sees module-level and function-level imports
    assert "effaug.cnn" in graph["effaug.features"] and "effaug.task" in graph["effaug.cnn"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_benchmark_records_name_no_path_of_the_measuring_machine():
    import json

    sys.path.insert(0, str(LIBRARY.parents[1] / "benchmarks"))
    from _common import published_argv

    argv = ["b.py", "--data-root", "/srv/data", "--frozen-results=/tmp/r/results", "--budgets", "1"]
    assert published_argv(argv) == ["b.py", "--data-root", "DATA_DIR", "--frozen-results=RESULTS", "--budgets", "1"]
    for path in sorted((LIBRARY.parents[1] / "benchmarks" / "results").glob("*.json")):
        command = json.loads(path.read_text())["command"]
        assert not [word for word in command.split() if "/" in word and not word.startswith("benchmarks/")], path


def test_the_workflow_benchmarks_read_each_job_s_threads_from_snakemake_s_log(tmp_path):
    """The floor of benchmarks 3 and 5 weighs each job by its threads, read from a real Snakemake run's log."""
    sys.path.insert(0, str(LIBRARY.parents[1] / "benchmarks"))
    import pandas as pd
    from workflow import job_threads, packing_floor

    (tmp_path / "Snakefile").write_text(
        'rule all:\n    input: "two.txt", "one.txt"\n'
        'rule two:\n    output: "two.txt"\n    benchmark: "bench/two.tsv"\n    threads: 2\n    shell: "touch {output}"\n'
        'rule one:\n    output: "one.txt"\n    benchmark: "bench/one.tsv"\n    threads: 1\n    shell: "touch {output}"\n')
    result = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "--cores", "2"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    threads = job_threads(result.stderr)
    assert threads == {"bench/two.tsv": 2, "bench/one.tsv": 1}
    bench = pd.DataFrame({"path": ["bench/two.tsv", "bench/one.tsv"], "s": [10.0, 4.0]})
    assert packing_floor(bench, threads, cores=2) == (10.0 * 2 + 4.0) / 2
