"""Progress of long jobs: ``epoch i/N`` (training) and ``images i/N``
(feature extraction) with the time left, on the console and in the job's log."""

import io
import logging
import re
import subprocess
import sys
import textwrap

import numpy as np

from effaug import augment, cnn
from effaug import features as F
from effaug.runtime import Progress, format_duration, job_name, progress_line
from effaug.task import make_task
from tests.conftest import REPO, pattern_images, write_mnist_idx

DURATION = r"(\d+ s|\d+ min \d\d s|\d+ h \d\d min)"

TRAIN_IN_A_JOB = textwrap.dedent("""
    import sys
    import numpy as np
    from effaug import cnn, runtime
    from tests.conftest import pattern_images
    labels = np.arange(32) % 2
    images = pattern_images(labels, 28, 1, seed=5)
    with runtime.redirect_output(sys.argv[1]):
        cnn.train(images, labels, cnn.FeaturizerSpec(architecture="lenet", epochs=2, batch_size=16, threads=2))
""")


def test_durations_read_as_seconds_minutes_or_hours():
    assert [format_duration(s) for s in (0, 0.4, 42, 59.6, 185, 3599, 3600, 7620)] == [
        "0 s", "0 s", "42 s", "1 min 00 s", "3 min 05 s", "59 min 59 s", "1 h 00 min", "2 h 07 min"]


def test_progress_line_projects_the_mean_step_time():
    assert progress_line("epoch", 3, 40, 62) == "epoch 3/40, 1 min 02 s elapsed, 12 min 45 s left"
    assert progress_line("epoch", 0, 40, 0) == "epoch 0/40, 0 s elapsed, ? left"
    assert progress_line("epoch", 40, 40, 900) == "epoch 40/40, 15 min 00 s elapsed, 0 s left"


def test_job_name_is_the_log_path_below_logs():
    assert job_name("results/logs/retrain/mnist/translate/loss/rand-prop.log") == \
        "retrain/mnist/translate/loss/rand-prop"
    assert job_name("/tmp/some.log") == "some"


def test_progress_reports_the_first_and_last_step_and_at_most_once_per_interval(caplog):
    times = iter([100, 101, 102, 112, 113, 130, 131])  # the start, then one time per step
    console = io.StringIO()
    progress = Progress("epoch", 6, interval=10, clock=lambda: next(times), stream=console)
    with caplog.at_level(logging.INFO, logger="effaug.progress"):
        reported = [progress.advance() for _ in range(6)]
    expected = ["epoch 1/6, 1 s elapsed, 5 s left", None, "epoch 3/6, 12 s elapsed, 12 s left", None,
                "epoch 5/6, 30 s elapsed, 6 s left", "epoch 6/6, 31 s elapsed, 0 s left"]
    assert reported == expected
    lines = [line for line in expected if line]
    assert console.getvalue().splitlines() == lines
    assert [record.getMessage() for record in caplog.records] == lines


def test_progress_counts_steps_of_any_size():
    times = iter([0, 5, 20])
    console = io.StringIO()
    progress = Progress("images", 3000, interval=10, clock=lambda: next(times), stream=console)
    assert progress.advance(1000) == "images 1000/3000, 5 s elapsed, 10 s left"
    assert progress.advance(2000) == "images 3000/3000, 20 s elapsed, 0 s left"


def test_training_in_a_job_shows_epochs_on_the_console_and_in_the_log(tmp_path):
    log = tmp_path / "logs" / "train_featurizer" / "tiny.log"
    result = subprocess.run([sys.executable, "-c", TRAIN_IN_A_JOB, str(log)], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, log.read_text() if log.exists() else result.stderr
    console = result.stderr.splitlines()
    for epoch in (1, 2):
        line = rf"training lenet: epoch {epoch}/2, {DURATION} elapsed, {DURATION} left"
        assert any(re.fullmatch(rf"\[train_featurizer/tiny\] {line}", row) for row in console), result.stderr
        assert re.search(rf"INFO effaug\.progress: {line}\n", log.read_text())
    # the console shows the progress lines only: TensorFlow's messages and the rest stay in the log
    assert len(console) == 2 and "training lenet on 32 images" in log.read_text()


def test_feature_extraction_reports_images_done(tmp_path, capsys, caplog):
    write_mnist_idx(tmp_path, n_train=60, n_test=30)
    task = make_task("mnist_idx", tmp_path, [3, 8], 10)
    labels = np.arange(32) % 2
    spec = cnn.FeaturizerSpec(architecture="lenet", epochs=1, batch_size=16, threads=2)
    model, _ = cnn.train(pattern_images(labels, 28, 1, seed=2), labels, spec)
    capsys.readouterr()
    k = augment.n_transforms("translate", {"shift": 2})
    total = (len(task.train_images) + len(task.test_images)) * (1 + k)
    with caplog.at_level(logging.INFO, logger="effaug.progress"):
        F.compute_features(cnn.bottleneck(model), task, "translate", {"shift": 2}, chunk=4)
    console = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"featurizing: images {len(task.train_images)}/{total}, {DURATION} elapsed, {DURATION} "
                        "left", console[0])
    assert re.fullmatch(rf"featurizing: images {total}/{total}, {DURATION} elapsed, 0 s left", console[-1])
    assert [record.getMessage() for record in caplog.records if record.name == "effaug.progress"] == console
