"""Bad input gives one clear error naming the file or config key and the fix:
label files, training subsets, names, hessian_l2, config files, SLURM and
a locked working directory."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from effaug import cli
from effaug import datasets as ds
from effaug import scores as S
from effaug import task as T
from tests.conftest import REPO, idx_bytes, norb_bytes, write_cifar10, write_mnist_idx, write_smallnorb
from tests.test_sources import write_h5, write_npz
from tests.test_workflow import workflow_env

EFFAUG = str(Path(sys.executable).parent / "effaug")


def effaug(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EFFAUG, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or workflow_env(cwd), timeout=120)


def write_train_labels(directory: Path, labels: np.ndarray) -> Path:
    """Replace the (gzipped) train label file of write_mnist_idx by a plain one holding ``labels``."""
    (directory / "train-labels-idx1-ubyte.gz").unlink(missing_ok=True)
    path = directory / "train-labels-idx1-ubyte"
    path.write_bytes(idx_bytes(labels))
    return path


# --------------------------------------------------------------------------
# 1. An IDX label file with two dimensions


def test_idx_label_file_with_two_dimensions_names_the_file(tmp_path):
    write_mnist_idx(tmp_path, n_train=40, n_test=20)
    write_train_labels(tmp_path, np.zeros((40, 2), np.uint8))
    message = r"train-labels-idx1-ubyte: .*shape \(40, 2\); labels must be 1-D"
    for call in (lambda: ds.load("mnist_idx", tmp_path), lambda: ds.read_labels("mnist_idx", tmp_path),
                 lambda: T.make_task("mnist_idx", tmp_path, [3, 8], 4)):
        with pytest.raises(ds.DatasetError, match=message):
            call()


# --------------------------------------------------------------------------
# 2. Labels outside the source's classes


def test_idx_label_outside_the_classes_names_file_value_and_range(tmp_path):
    write_mnist_idx(tmp_path, n_train=40, n_test=20)
    labels = (np.arange(40) % 10).astype(np.uint8)
    labels[7] = 12
    write_train_labels(tmp_path, labels)
    message = r"train-labels-idx1-ubyte: .*label 12 .*allowed range 0\.\.9"
    for call in (lambda: ds.load("mnist_idx", tmp_path), lambda: ds.read_labels("mnist_idx", tmp_path),
                 lambda: T.make_task("mnist_idx", tmp_path, "all", 40)):
        with pytest.raises(ds.DatasetError, match=message):
            call()


def test_smallnorb_label_outside_the_classes(tmp_path):
    write_smallnorb(tmp_path, n=6, size=8)
    path = tmp_path / ds.SMALLNORB_FILES["test_labels"]
    path.write_bytes(norb_bytes(np.array([0, 1, 2, 3, 4, 7], np.int32)))
    for call in (lambda: ds.load("smallnorb", tmp_path), lambda: ds.read_labels("smallnorb", tmp_path)):
        with pytest.raises(ds.DatasetError, match=r"testing-cat.mat: .*label 7 .*allowed range 0\.\.4"):
            call()


def test_cifar10_label_outside_the_classes(tmp_path):
    path = write_cifar10(tmp_path / "cifar-10-batches-py", archive=False, per_batch=4, n_test=4)
    batch = {b"batch_label": b"x", b"labels": [0, 1, 11, 2], b"data": np.zeros((4, 3072), np.uint8)}
    (path / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=2))
    for call in (lambda: ds.load("cifar10", path), lambda: ds.read_labels("cifar10", path)):
        with pytest.raises(ds.DatasetError, match=r"data_batch_2: .*label 11 .*allowed range 0\.\.9"):
            call()


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_array_label_outside_the_class_names(tmp_path, suffix):
    path = tmp_path / f"d{suffix}"
    y_train = np.array([0, 1, 2, 0, 1, 5, 0, 1, 2, 0, 1, 2])
    write = write_npz if suffix == ".npz" else write_h5
    write(path, y_train=y_train, class_names=np.array(["cat", "dog", "emu"]))
    for call in (lambda: ds.load("arrays", path), lambda: T.make_task("arrays", path, "all", 6)):
        with pytest.raises(ds.DatasetError, match=rf"d{suffix}: y_train holds label 5 .*labels 0\.\.2"):
            call()


# --------------------------------------------------------------------------
# 3. Training subsets: one class only, too few images


def one_class_first(directory: Path) -> None:
    """IDX files whose first ten training images are all 3s."""
    write_mnist_idx(directory, n_train=40, n_test=20)
    labels = np.concatenate([np.full(10, 3), np.arange(30) % 10]).astype(np.uint8)
    write_train_labels(directory, labels)


def test_single_class_subset_names_n_train_and_train_subset(tmp_path):
    one_class_first(tmp_path)
    with pytest.raises(ds.DatasetError, match=r"n_train=6 with train_subset: first takes training images of "
                                              r"class '3' only.*use train_subset: stratified"):
        T.make_task("mnist_idx", tmp_path, [3, 8], 6, "first")
    task = T.make_task("mnist_idx", tmp_path, [3, 8], 6, "stratified")
    assert np.bincount(task.train_labels).tolist() == [3, 3]


def test_n_train_above_the_available_images_is_named(tmp_path):
    one_class_first(tmp_path)  # 13 threes and 3 eights
    with pytest.raises(ds.DatasetError, match=r"n_train=17 but only 16 training images of classes '3', '8' "
                                              r"exist in the data; lower n_train to 16"):
        T.make_task("mnist_idx", tmp_path, [3, 8], 17, "random")


def test_class_without_training_images_is_named(tmp_path):
    write_mnist_idx(tmp_path, n_train=40, n_test=20)
    write_train_labels(tmp_path, np.where(np.arange(40) % 10 == 5, 4, np.arange(40) % 10).astype(np.uint8))
    with pytest.raises(ds.DatasetError, match=r"class\(es\) '5' have no train image in the data; drop them"):
        T.make_task("mnist_idx", tmp_path, [3, 5], 4)


# --------------------------------------------------------------------------
# 4. Names must match whole: no trailing newline


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_dataset_name_with_a_trailing_newline_is_rejected(tmp_path):
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = demo_config()
    config["datasets"] = {"mnist\n": config["datasets"]["mnist"]}
    with pytest.raises(WorkflowError):
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(cli.CliError, match=r"c.yaml: datasets: the name 'mnist\\n' is not allowed; names are "
                                           "letters, digits"):
        cli.load_config(path)


def test_augmentation_name_with_a_trailing_newline_is_rejected(tmp_path):
    from effaug import augment

    config = demo_config()
    config["datasets"]["mnist"]["augmentations"] = {"flip\n": {"imgaug": [{"Fliplr": 1.0}]}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(cli.CliError, match=r"datasets.mnist.augmentations: the name 'flip\\n' is not allowed"):
        cli.load_config(path)
    with pytest.raises(augment.AugmentationError, match=r"augmentation name 'flip\\n': use letters"):
        augment.transforms("flip\n", {"imgaug": [{"Fliplr": 1.0}]})
    assert len(augment.transforms("flip", {"imgaug": [{"Fliplr": 1.0}]})) == 1


@pytest.mark.parametrize("name", ["baseline\n", "rand-prop\n", "det-inverse-prop-update-down\n",
                                  "clustered-baseline-c3\n", "kdpp-influence\n"])
def test_policy_name_with_a_trailing_newline_is_rejected(name):
    from effaug.policies import PolicyError, parse_policy

    with pytest.raises(PolicyError, match="unknown policy"):
        parse_policy(name)
    assert parse_policy(name.strip()).name == name.strip()


# --------------------------------------------------------------------------
# 5. slurm-status without SLURM


def test_slurm_status_without_slurm_says_so(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").symlink_to(sys.executable)
    result = subprocess.run([sys.executable, "-m", "effaug.cli", "slurm-status", "123"], capture_output=True,
                            text=True, cwd=tmp_path, env={"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)},
                            timeout=120)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("effaug slurm-status: SLURM's commands (sacct) were not found on PATH")
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------
# 6. effaug run: config files missing or not YAML


BAD_YAML = "datasets:\n  mnist:\n    classes: [3, 8\n    n_train: 10\n"


@pytest.mark.parametrize("args", [["--configfile=missing.yaml"], ["c.yaml", "--configfile", "missing.yaml"],
                                  ["--configfile", "missing.yaml"]])
def test_run_with_a_missing_configfile(tmp_path, args):
    (tmp_path / "c.yaml").write_text("datasets: {}\n")
    result = effaug(tmp_path, "run", "--dry-run", *args)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert "effaug run: missing.yaml: config file not found; check the path" in result.stderr


@pytest.mark.parametrize("args", [["bad.yaml"], ["c.yaml", "--configfile", "bad.yaml"], ["--configfile=bad.yaml"]])
def test_run_with_a_yaml_syntax_error_gives_file_line_and_column(tmp_path, args):
    (tmp_path / "c.yaml").write_text("datasets: {}\n")
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    result = effaug(tmp_path, "run", "--dry-run", *args)
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr
    assert "effaug run: bad.yaml:4:12: expected ',' or ']', but got ':'" in result.stderr, result.stderr


def test_read_yaml_names_line_and_column(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    with pytest.raises(cli.CliError, match=r"bad.yaml:4:12: expected ',' or '\]', but got ':'"):
        cli.read_yaml(tmp_path / "bad.yaml")


def test_split_configfiles():
    assert cli.split_configfiles(["--configfile", "a.yaml", "b.yaml", "--keep-going", "all"]) == \
        (["--keep-going", "all"], ["a.yaml", "b.yaml"])
    assert cli.split_configfiles(["--configfile=a.yaml", "all"]) == (["all"], ["a.yaml"])
    assert cli.split_configfiles(["--configfile"]) == ([], [])


# --------------------------------------------------------------------------
# 7. hessian_l2


@pytest.mark.parametrize("value", ["tiny", -1, float("nan"), True, None])
def test_hessian_l2_error_lists_the_allowed_values(value):
    from effaug.settings import Settings

    message = r"hessian_l2 must be 'code', 'model' or a number >= 0, got .*; allowed values: code .* model .*number"
    with pytest.raises(S.ScoreError, match=message):
        S.hessian_l2(value, 1.0)
    with pytest.raises(S.ScoreError, match=message):
        Settings(hessian_l2=value).l2
    assert S.hessian_l2("1e-4", 1.0) == 1e-4 and S.hessian_l2("model", 4.0) == 0.25


# --------------------------------------------------------------------------
# 8. A working directory locked by a live run, or by an interrupted one


@pytest.fixture
def fake_run(tmp_path):
    """A live process named snakemake whose current directory is tmp_path/work."""
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / "bin" / "snakemake"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    process = subprocess.Popen([str(script)], cwd=work)
    try:
        deadline = time.monotonic() + 10
        while process.pid not in cli.live_runs(work) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield work, process
    finally:
        process.kill()
        process.wait()


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc")
def test_live_runs_finds_the_process_working_in_the_directory(fake_run, tmp_path):
    work, process = fake_run
    assert process.pid in cli.live_runs(work)
    assert process.pid not in cli.live_runs(tmp_path)
    assert os.getpid() not in cli.live_runs(Path.cwd())  # never ourselves


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc")
def test_run_refuses_a_directory_locked_by_a_live_run_then_reports_a_stale_lock(fake_run, tmp_path):
    work, process = fake_run
    locks = work / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text(str(work / "results"))
    for extra in ([], ["--unlock"]):
        result = effaug(tmp_path, "run", "--directory", str(work), "--cores", "1", *extra)
        assert result.returncode == 1
        assert result.stderr.strip() == (f"effaug run: another run (pid {process.pid}) is working in {work}; wait "
                                         "for it to finish or stop it; do not --unlock while it runs")
        assert "--cleanup-metadata" not in result.stdout + result.stderr
    process.kill()
    process.wait()
    result = effaug(tmp_path, "run", "--directory", str(work), "--cores", "1")
    assert result.returncode == 1
    assert "a previous run was interrupted" in result.stderr
    assert "`effaug run --unlock` (or `snakemake --unlock`) clears the stale lock" in result.stderr
    assert (locks / "0.input.lock").exists()  # not unlocked for you


# --------------------------------------------------------------------------
# Downloads: https only, checksums never switched off silently


@pytest.mark.parametrize("url", ["http://example.org/mnist/", "ftp://example.org/x", "file:///etc/passwd"])
def test_downloads_refuse_clear_text_and_local_schemes(url):
    from effaug.datasets.download import check_url

    with pytest.raises(ds.DatasetError, match="downloads use https:// only"):
        check_url(url)


def test_downloads_allow_https_and_a_mirror_on_this_machine():
    from effaug.datasets.download import check_url

    for url in ("https://example.org/x.gz", "http://127.0.0.1:8000/x.gz", "http://localhost/x.gz"):
        assert check_url(url) == url


def download_config(download: dict) -> dict:
    return {"datasets": {"idx": {"source": "mnist_idx", "path": "mnist", "classes": [3, 8], "n_train": 20,
                                 "augmentations": {"translate": {"shift": 2}}}},
            "experiment": {"budgets": [2, 5], "summary_fractions": [0.25], "seeds": 1},
            "download": download}


@pytest.mark.parametrize("download,message", [
    ({"mirror": "http://mirror.example.org/mnist"}, "download.mirror: http://mirror.example.org/mnist: downloads "
     "use https:// only"),
    ({"checksums": {"train-images-idx3-ubyte": "0" * 32}}, "download.checksums: train-images-idx3-ubyte is not a "
     "file of any source's download"),
])
def test_download_settings_are_checked_before_any_job(tmp_path, download, message):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(download_config(download)))
    result = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"),
                             "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
                             "--cores", "1", "download"], capture_output=True, text=True, cwd=tmp_path,
                            env=workflow_env(tmp_path))
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "results").exists()


def test_a_replaced_checksum_is_named_in_the_log(tmp_path, caplog):
    from effaug.datasets.download import download_source, md5sum

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.gz").write_bytes(b"payload")
    files = {"a.gz": {"urls": ["https://example.org/a.gz"], "md5": md5sum(data / "a.gz"), "published_md5": "1" * 32}}
    with caplog.at_level("WARNING", logger="effaug.datasets"):
        download_source(files, data, tmp_path / "record.tsv")
    assert f"a.gz: checked against {md5sum(data / 'a.gz')} from download.checksums, not the published MD5" \
        in caplog.text


def test_a_pool_size_larger_than_the_feature_map_is_refused_when_planning(tmp_path):
    config = download_config({})
    config["datasets"]["idx"]["featurizer"] = {"architecture": "resnet_v2", "depth": 11, "pool_size": 8}
    (tmp_path / "mnist").mkdir()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"),
                             "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
                             "--config", f"data_root={tmp_path}", "-n"], capture_output=True, text=True,
                            cwd=tmp_path, env=workflow_env(tmp_path))
    assert result.returncode != 0
    assert ("datasets.idx.featurizer.pool_size: 8 is larger than the last feature map (7x7) of resnet_v2 on "
            "28x28 images; use at most 7, or null for global average pooling") in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()
