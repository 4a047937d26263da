"""Your own data end to end through the `effaug` command: a folder of PNG and
JPEG images of mixed sizes (gray and RGB, three classes), your own Keras model
as the featurizer and a custom imgaug augmentation: init -> run -> select -> plan."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.test_workflow import workflow_env

EFFAUG = str(Path(sys.executable).parent / "effaug")
CLASSES = ("circle", "square", "triangle")
PER_CLASS = 18


def effaug(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EFFAUG, *args], capture_output=True, text=True, cwd=workdir, env=workflow_env(workdir))


def draw(shape: str, size: tuple[int, int], seed: int, colour: bool) -> np.ndarray:
    """A shape on the left half of a noisy image (a flip moves it right)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    image = rng.integers(0, 50, (h, w, 3), dtype=np.uint8)
    x, y, r = w // 4 + int(rng.integers(-1, 2)), h // 2 + int(rng.integers(-2, 3)), max(3, h // 5)
    ink = (255, 220, 120) if colour else (230, 230, 230)
    if shape == "circle":
        cv2.circle(image, (x, y), r, ink, -1)
    elif shape == "square":
        cv2.rectangle(image, (x - r, y - r), (x + r, y + r), ink, -1)
    else:
        cv2.fillPoly(image, [np.array([(x, y - r), (x - r, y + r), (x + r, y + r)], np.int32)], ink)
    return image


def write_image_folder(root: Path) -> dict[str, list[str]]:
    """Three class folders: PNG and JPEG, 16x16 and 20x18, gray and RGB, and a stray text file."""
    import cv2

    written = {}
    for c, shape in enumerate(CLASSES):
        (root / shape).mkdir(parents=True)
        written[shape] = []
        for i in range(PER_CLASS):
            size = (20, 18) if i % 4 == 3 else (16, 16)
            image = draw(shape, size, seed=100 * c + i, colour=i % 2 == 0)
            name = f"{shape}/{i:02d}.{'jpg' if i % 3 == 0 else 'png'}"
            if i % 2:  # gray file
                cv2.imwrite(str(root / name), image[..., 0])
            else:
                cv2.imwrite(str(root / name), image[..., ::-1])  # OpenCV writes BGR
            written[shape].append(name)
    (root / "circle" / "README.txt").write_text("not an image")
    return written


def write_model(path: Path) -> None:
    """A small Keras model of our own, saved as .keras: its layer 'features' gives the features."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Flatten(name="features")(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """init on the folder, the config edited as a user would, then run."""
    workdir = tmp_path_factory.mktemp("own")
    folder = workdir / "shapes"
    written = write_image_folder(folder)
    write_model(workdir / "model.keras")
    init = effaug(workdir, "init", "--images", str(folder), "--out", "shapes.yaml")
    config = yaml.safe_load((workdir / "shapes.yaml").read_text())
    config["datasets"]["shapes"].update({
        "image_size": [16, 16],
        "featurizer": {"file": "model.keras", "layer": "features", "threads": 1},
        "augmentations": {"flips": {"imgaug": [{"Fliplr": 1.0}, {"Affine": {"rotate": [-5, 5]}}], "copies": 2}},
    })
    config["experiment"].update({"scores": ["influence"], "seeds": 3, "svm": {"folds": 2},
                                 "policies": ["baseline", "rand-prop", "rand-prop-down", "det-prop"]})
    (workdir / "shapes.yaml").write_text(yaml.safe_dump(config))
    run = effaug(workdir, "run", "shapes.yaml", "--cores", "2")
    return workdir, written, init, run


def test_init_writes_a_commented_config_for_the_folder(own_run):
    workdir, _, init, _ = own_run
    assert init.returncode == 0, init.stderr
    assert "effaug run shapes.yaml" in init.stdout
    fresh = effaug(workdir, "init", "--images", "shapes", "--out", "again.yaml")
    assert fresh.returncode == 0, fresh.stderr
    written = (workdir / "again.yaml").read_text()
    assert "# 3 classes (circle, square, triangle)" in written
    assert "image_size: [16, 16]" in written and "sizes differ" in written
    assert "channels: 3" in written
    config = yaml.safe_load(written)["datasets"]["shapes"]
    n_train = PER_CLASS * 3 - sum(max(1, round(0.2 * PER_CLASS)) for _ in CLASSES)
    assert config["source"] == "image_folder" and config["n_train"] == n_train
    again = effaug(workdir, "init", "--images", "shapes", "--out", "again.yaml")
    assert again.returncode == 1 and "--force" in again.stderr


def test_run_builds_features_from_the_users_model_and_custom_augmentation(own_run):
    import h5py

    workdir, written, _, run = own_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not (workdir / "results" / "shapes" / "featurizer.keras").exists()  # no training step
    with h5py.File(workdir / "results" / "shapes" / "task.h5") as f:
        names = list(f["train/name"].asstr()[()])
        assert f["train/images"].shape[1:] == (16, 16, 3)
    every = {name for files in written.values() for name in files}
    assert set(names) <= every and len(names) == len(set(names))
    with h5py.File(workdir / "results" / "shapes" / "flips" / "features.h5") as f:
        assert f["train/features"].shape == (len(names), 7 * 7 * 4)
        assert f["augmented/features"].shape == (2 * len(names), 7 * 7 * 4)
        assert f.attrs["n_transforms"] == 2
    assert (workdir / "results" / "shapes" / "summary.md").read_text().startswith("shapes, ")


def test_curves_that_augment_every_point_end_at_the_full_augmentation_reference(own_run):
    """Three classes (the multinomial fit): at the all-points budget a curve without down-weighting takes
    scores.h5's full-augmentation fit, the one references.json evaluates; a down-weighted one fits."""
    from effaug.policies import parse_policy

    workdir, _, _, run = own_run
    assert run.returncode == 0
    config = yaml.safe_load((workdir / "shapes.yaml").read_text())
    n = config["datasets"]["shapes"]["n_train"]
    assert n in config["experiment"]["budgets"]
    references = json.loads((workdir / "results/shapes/flips/references.json").read_text())
    kinds = set()
    for path in (workdir / "results/shapes/flips").glob(f"*/*/seed*/budget{n}.json"):
        result, down = json.loads(path.read_text()), parse_policy(path.parts[-3]).down
        kinds.add(down)
        if down:
            assert result["n_iter"] > 0, path
        else:
            assert result["n_iter"] == 0, path
            assert result["accuracy"] == references["full_augmentation_accuracy"], path
            assert result["clean_accuracy"] == references["full_augmentation_clean_accuracy"], path
    assert kinds == {False, True}  # both kinds were run


def test_select_writes_the_chosen_files_in_order(own_run):
    workdir, _, _, run = own_run
    assert run.returncode == 0
    result = effaug(workdir, "select", "--config", "shapes.yaml", "--policy", "det-prop", "--score", "influence",
                    "--budget", "25%", "--out", "chosen.csv", "--cores", "1")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((workdir / "chosen.csv").open()))
    n_train = yaml.safe_load((workdir / "shapes.yaml").read_text())["datasets"]["shapes"]["n_train"]
    assert len(rows) == round(0.25 * n_train)
    assert list(rows[0]) == ["rank", "point_id", "path", "class", "score"]
    for rank, row in enumerate(rows):
        assert int(row["rank"]) == rank
        assert (workdir / "shapes" / row["path"]).is_file()
        assert row["class"] == row["path"].split("/")[0]
    scores = [float(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)  # det-prop: highest influence first
    lines = (workdir / "results/shapes/flips/influence/det-prop/seed0/order.tsv").read_text().splitlines()
    order = [line for line in lines if not line.startswith("#")][1:]  # the provenance line, then the header
    positions = [int(line.split("\t")[1]) for line in order[:len(rows)]]
    with __import__("h5py").File(workdir / "results" / "shapes" / "task.h5") as f:
        names = list(f["train/name"].asstr()[()])
    assert [names[p] for p in positions] == [row["path"] for row in rows]
    assert [line.split("\t")[3] for line in order[:len(rows)]] == [row["path"] for row in rows]
    budget = max(yaml.safe_load((workdir / "shapes.yaml").read_text())["experiment"]["budgets"])
    result = json.loads((workdir / f"results/shapes/flips/influence/rand-prop/seed0/budget{budget}.json").read_text())
    assert result["paths"] == [names[p] for p in result["points"]]


def test_select_rejects_a_budget_above_n(own_run):
    workdir, _, _, _ = own_run
    result = effaug(workdir, "select", "--config", "shapes.yaml", "--policy", "rand-prop", "--score", "influence",
                    "--budget", "1000", "--out", "too_many.csv", "--no-run")
    assert result.returncode == 1
    assert "budget 1000 is 1000 points, but there are" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (workdir / "too_many.csv").exists()


def test_plan_reports_the_smallest_budget_and_writes_its_figure(own_run):
    workdir, _, _, run = own_run
    assert run.returncode == 0
    result = effaug(workdir, "plan", "--config", "shapes.yaml", "--target", "0.5", "--out", "plan.csv",
                    "--no-run")
    assert result.returncode == 0, result.stderr
    assert "no augmentation" in result.stdout and "full augmentation" in result.stdout
    rows = list(csv.DictReader((workdir / "plan.csv").open()))
    assert {row["policy"] for row in rows} == {"baseline", "rand-prop", "rand-prop-down", "det-prop"}
    for row in rows:
        if row["reached"] == "True":
            assert float(row["gap_closed"]) >= 0.5
            assert f"{int(float(row['budget']))} points" in result.stdout
        else:
            assert float(row["gap_closed"]) < 0.5
    assert (workdir / "results/shapes/flips/figures/plan_0.5.png").stat().st_size > 10_000
    strict = effaug(workdir, "plan", "--config", "shapes.yaml", "--target", "1.0", "--out", "plan1.csv", "--no-run")
    assert strict.returncode == 0, strict.stderr
    for row in csv.DictReader((workdir / "plan1.csv").open()):
        assert (row["reached"] == "True") == (float(row["gap_closed"]) >= 1.0)
    if "True" not in {row["reached"] for row in csv.DictReader((workdir / "plan1.csv").open())}:
        assert "no policy closes 100% of the gap" in strict.stdout


def test_non_image_files_are_skipped_with_a_count_in_the_log(own_run):
    workdir, _, _, run = own_run
    assert run.returncode == 0
    log = (workdir / "results" / "logs" / "task" / "shapes.log").read_text()
    assert "skipped 1 non-image file(s)" in log


def small_folder(root: Path, classes=("a", "b"), per_class=4) -> Path:
    import cv2

    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(root / name / f"{i}.png"), draw(CLASSES[c % 3], (16, 16), 10 * c + i, True))
    return root


@pytest.mark.parametrize("breakage,message", [
    ("single", "only one class folder (a); a task needs two classes or more"),
    ("empty", "holds no image"),
    ("no_images", "no image"),
])
def test_init_refuses_folders_it_cannot_use(tmp_path, breakage, message):
    folder = small_folder(tmp_path / "imgs", classes=("a",) if breakage == "single" else ("a", "b"))
    if breakage == "empty":
        (folder / "c").mkdir()
    if breakage == "no_images":
        for image in folder.rglob("*.png"):
            image.rename(image.with_suffix(".txt"))
    result = effaug(tmp_path, "init", "--images", str(folder), "--out", "c.yaml")
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c.yaml").exists()


def test_a_corrupt_image_fails_the_task_naming_the_file(tmp_path):
    folder = small_folder(tmp_path / "imgs")
    assert effaug(tmp_path, "init", "--images", str(folder), "--out", "c.yaml").returncode == 0
    (folder / "b" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    result = effaug(tmp_path, "run", "c.yaml", "--cores", "1", "results/imgs/task.h5")
    assert result.returncode == 1
    log = (tmp_path / "results" / "logs" / "task" / "imgs.log").read_text()
    assert "b/2.png: not a readable image (corrupt or truncated)" in log
    assert "the workflow failed" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "results" / "imgs" / "task.h5").exists()


def test_arrays_init_and_bad_arrays(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (30, 10, 10), dtype=np.uint8), "y_train": np.arange(30) % 3,
              "x_test": rng.integers(0, 256, (9, 10, 10), dtype=np.uint8), "y_test": np.arange(9) % 3,
              "class_names": np.array(["red", "green", "blue"])}
    np.savez(tmp_path / "data.npz", **arrays)
    result = effaug(tmp_path, "init", "--arrays", "data.npz", "--out", "a.yaml")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((tmp_path / "a.yaml").read_text())["datasets"]["data"]
    assert config["source"] == "arrays" and config["n_train"] == 30
    assert "3 classes (red, green, blue); images 10x10x1" in (tmp_path / "a.yaml").read_text()
    dry = effaug(tmp_path, "run", "a.yaml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    np.savez(tmp_path / "bad.npz", **{**arrays, "y_train": np.arange(29) % 3})
    bad = effaug(tmp_path, "init", "--arrays", "bad.npz", "--out", "b.yaml")
    assert bad.returncode == 1 and "bad.npz" in bad.stderr and "y_train" in bad.stderr
    np.savez(tmp_path / "labels.npz", **{**arrays, "y_test": np.arange(9) % 4})
    outside = effaug(tmp_path, "init", "--arrays", "labels.npz", "--out", "c.yaml")
    assert outside.returncode == 1 and "y_test" in outside.stderr and "class_names" in outside.stderr
    assert not (tmp_path / "b.yaml").exists() and not (tmp_path / "c.yaml").exists()
