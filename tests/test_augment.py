import numpy as np
import pytest

from effaug import augment


def single_pixel(size=28, row=10, col=12, channels=1):
    image = np.zeros((1, size, size, channels), np.uint8)
    image[0, row, col] = 255
    return image


def test_translate_moves_a_pixel_by_each_diagonal_shift():
    out, source, transform = augment.augment(single_pixel(), "translate", {"shift": 2})
    assert out.shape == (4, 28, 28, 1)
    positions = [tuple(np.argwhere(img[..., 0] == 255)[0]) for img in out]
    # (dx, dy) in (+m,+m), (-m,+m), (+m,-m), (-m,-m); row = y, col = x
    assert positions == [(12, 14), (12, 10), (8, 14), (8, 10)]
    assert all((img > 0).sum() == 1 for img in out)  # integer shifts: exact, no blur
    np.testing.assert_array_equal(source, [0, 0, 0, 0])
    np.testing.assert_array_equal(transform, [0, 1, 2, 3])


def test_translate_fills_with_edge_values():
    image = np.zeros((1, 8, 8, 1), np.uint8)
    image[0, :, 0] = 200  # left column
    out, _, _ = augment.augment(image, "translate", {"shift": 2})
    # shifting right by 2 repeats the left edge column into the new columns
    np.testing.assert_array_equal(out[0, :, :3, 0], 200)
    assert (out[0, :, 3:, 0] == 0).all()


def test_rotate_angles_drop_exact_zero():
    assert len(augment.rotate_angles(30, 15)) == 14
    assert 0.0 not in augment.rotate_angles(30, 15)
    np.testing.assert_allclose(augment.rotate_angles(5, 4), [-5, -5 / 3, 5 / 3, 5])
    assert augment.n_transforms("rotate", {"max_angle": 30, "n_angles": 15}) == 14


def test_most_copies_names_the_first_augmentation_with_the_most_copies_per_image():
    translate, crop_four, crop_six = {"shift": 2}, {"px": [1, 2, 3, 4]}, {"px": [1, 2, 3, 4, 5, 6]}
    assert augment.most_copies({"translate": translate, "crop": crop_six}) == "crop"  # 6 copies > 4
    assert augment.most_copies({"translate": translate, "crop": crop_four}) == "translate"  # a tie: the first
    assert augment.most_copies({"crop": crop_four, "translate": translate}) == "crop"


def test_rotate_is_about_the_centre_and_by_the_angle():
    image = np.zeros((1, 29, 29, 1), np.uint8)
    image[0, 14, 24] = 255  # 10 px right of the centre (14, 14)
    out, _, _ = augment.augment(image, "rotate", {"max_angle": 90, "n_angles": 3})
    # angles -90 and +90: imgaug rotates clockwise for positive angles (y points down)
    peaks = [tuple(np.unravel_index(img[..., 0].argmax(), img.shape[:2])) for img in out]
    assert peaks == [(4, 14), (24, 14)]


def test_crop_keeps_shape_and_zooms():
    image = np.zeros((1, 28, 28, 1), np.uint8)
    image[0, 2:26, 2:26] = 255  # a square with a 2-px black border
    out, source, transform = augment.augment(image, "crop", {"px": [1, 2, 3]})
    assert out.shape == (3, 28, 28, 1) and out.dtype == np.uint8
    # cropping 2 px removes exactly the border; resizing back fills the frame
    assert out[1].min() == 255
    assert out[0][0, 0, 0] < 255 and out[0][14, 14, 0] == 255
    np.testing.assert_array_equal(transform, [0, 1, 2])


def test_source_major_order_and_k_copies():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28, 1), dtype=np.uint8)
    out, source, transform = augment.augment(images, "crop", {"px": [1, 3]})
    assert out.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(source, np.repeat(np.arange(5), 2))
    np.testing.assert_array_equal(transform, np.tile([0, 1], 5))
    single, _, _ = augment.augment(images[3:4], "crop", {"px": [1, 3]})
    np.testing.assert_array_equal(out[6:8], single)  # row i*K + k is transform k of image i


@pytest.mark.parametrize("name,params", [
    ("translate", {"shift": 3}),
    ("rotate", {"max_angle": 5, "n_angles": 4}),
    ("crop", {"px": [2]}),
])
def test_deterministic_on_colour_images(name, params):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    a = augment.augment(images, name, params)[0]
    b = augment.augment(images, name, params)[0]
    assert a.shape == (4 * augment.n_transforms(name, params), 32, 32, 3)
    np.testing.assert_array_equal(a, b)


def test_bad_parameters_raise():
    with pytest.raises(augment.AugmentationError, match="unknown augmentation 'flip'"):
        augment.transforms("flip", {})
    with pytest.raises(augment.AugmentationError, match="missing parameter 'shift'"):
        augment.transforms("translate", {})
    with pytest.raises(augment.AugmentationError, match="crop.px"):
        augment.transforms("crop", {"px": []})
    with pytest.raises(augment.AugmentationError, match="uint8"):
        augment.augment(np.zeros((2, 8, 8), np.float32), "crop", {"px": [1]})


# --------------------------------------------------------------------------
# Custom augmentations: any imgaug augmenters, `copies` seeded draws per image

FLIP_ROTATE = {"imgaug": [{"Fliplr": 1.0}, {"Affine": {"rotate": [-20, 20], "mode": "edge"}}], "copies": 3, "seed": 4}


def noisy(n=5, size=12, channels=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


def test_custom_flip_is_the_mirror_image():
    images = noisy()
    out, source, transform = augment.augment(images, "mirror", {"imgaug": [{"Fliplr": 1.0}], "copies": 2})
    assert out.shape == (10, 12, 12, 1)
    np.testing.assert_array_equal(out[0], images[0, :, ::-1])
    np.testing.assert_array_equal(out[3], images[1, :, ::-1])
    np.testing.assert_array_equal(source, np.repeat(np.arange(5), 2))
    np.testing.assert_array_equal(transform, np.tile([0, 1], 5))
    assert augment.transforms("mirror", {"imgaug": [{"Fliplr": 1.0}], "copies": 2}) == [{"copy": 0}, {"copy": 1}]


def test_custom_copies_depend_on_the_point_id_not_on_the_batch():
    images = noisy(6)
    ids = np.array([10, 11, 12, 13, 14, 15])
    whole, _, _ = augment.augment(images, "fr", FLIP_ROTATE, ids)
    part, _, _ = augment.augment(images[[4, 1]], "fr", FLIP_ROTATE, ids[[4, 1]])
    np.testing.assert_array_equal(part[:3], whole[12:15])  # point 14's three copies
    np.testing.assert_array_equal(part[3:], whole[3:6])  # point 11's
    again, _, _ = augment.augment(images, "fr", FLIP_ROTATE, ids)
    np.testing.assert_array_equal(again, whole)
    # the copies of one image differ (random angles), and another seed or stream draws others
    assert not np.array_equal(whole[0], whole[1])
    reseeded, _, _ = augment.augment(images, "fr", {**FLIP_ROTATE, "seed": 5}, ids)
    other_stream, _, _ = augment.augment(images, "fr", FLIP_ROTATE, ids, stream=1)
    assert not np.array_equal(reseeded, whole) and not np.array_equal(other_stream, whole)


def test_custom_arguments_ranges_choices_and_children():
    sequence = augment.build_imgaug([{"Affine": {"rotate": [-10, 10], "scale": {"choice": [0.9, 1.1]}}},
                                     {"Sometimes": {"p": 0.5, "then_list": [{"GaussianBlur": {"sigma": [0, 1]}}]}},
                                     {"Fliplr": None}])
    affine, sometimes, flip = sequence
    assert type(affine.rotate).__name__ == "Uniform"  # a list of two numbers: a range
    assert type(affine.scale).__name__ == "Choice"  # {choice: [...]}: a discrete choice
    assert type(sometimes.then_list[0]).__name__ == "GaussianBlur"
    assert type(flip).__name__ == "Fliplr"


@pytest.mark.parametrize("spec,message", [
    ([{"Flipr": 0.5}], "unknown imgaug augmenter 'Flipr'; did you mean Fliplr"),
    ([{"Lambda": None}], "unknown imgaug augmenter 'Lambda'"),
    ([{"SaveDebugImageEveryNBatches": {"destination": "/tmp/x", "interval": 1}}], "unknown imgaug augmenter"),
    ([{"Affine": {"rotat": 10}}], "imgaug[0].Affine: invalid arguments"),
    ([{"Fliplr": 0.5, "Flipud": 0.5}], "expected one augmenter"),
    ([], "non-empty list"),
])
def test_custom_bad_specs_name_the_entry(spec, message):
    with pytest.raises(augment.AugmentationError, match=None) as err:
        augment.check_custom({"imgaug": spec})
    assert message in str(err.value)


def test_custom_checks_copies_seed_keys_and_shape():
    with pytest.raises(augment.AugmentationError, match="copies must be an integer >= 1"):
        augment.check_custom({"imgaug": [{"Fliplr": 1.0}], "copies": 0})
    with pytest.raises(augment.AugmentationError, match="unknown key"):
        augment.check_custom({"imgaug": [{"Fliplr": 1.0}], "copy": 2})
    with pytest.raises(augment.AugmentationError, match="keep the image's shape"):
        augment.check_custom({"imgaug": [{"Crop": {"px": 2, "keep_size": False}}]})
    augment.check_custom({"imgaug": [{"Grayscale": 1.0}]}, channels=3)
