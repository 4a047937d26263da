"""effaug: which training points to augment, and how many.

  effaug init --images DIR          write a config for a folder of images (or --arrays FILE)
  effaug run CONFIG --cores N       run the workflow on it (Snakemake)
  effaug select --config CONFIG --policy rand-prop --score influence --budget 10% --out chosen.csv
  effaug plan --config CONFIG --target 0.9

Every command takes --help. Errors are one line on stderr and a non-zero
exit status (1: the request failed; 2: a usage error).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
SNAKEFILE = REPOSITORY / "Snakefile"
SCHEMA = REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"

RUNNING = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT",
           "SIGNALING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "STOPPED", "PREEMPTED"}


# top-level modules that come with `pip install 'effaug[workflow]'`, not with the Python API's install
WORKFLOW_MODULES = frozenset({"snakemake", "tensorflow", "keras", "imgaug", "cv2", "skimage", "pandas", "matplotlib",
                              "mlxtend", "yaml", "jsonschema"})


class CliError(Exception):
    """A failure to report in one line, without a traceback."""


# --------------------------------------------------------------------------
# Configuration


def read_yaml(path: str | Path):
    """The YAML document of a config file; CliError naming the file (and
    ``FILE:LINE:COLUMN`` of a syntax error) where it is missing or not YAML."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise CliError(f"{path}: config file not found; check the path (or write one with "
                       "`effaug init --images DIR`)")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise CliError(f"{where}: {problem} (not valid YAML; fix the file there)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"{path}: cannot read the config file ({err})") from None


def _validation_message(err) -> str:
    """The first line of a schema error, with the config key it is about."""
    from jsonschema import ValidationError

    cause = err.__cause__ or err.__context__  # Snakemake raises it while handling jsonschema's error
    if not isinstance(cause, ValidationError):
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        return next((line for line in lines if line.startswith("ValidationError:")), lines[0] if lines else str(err))
    key = ".".join(str(part) for part in cause.absolute_path) or "the config"
    if "propertyNames" in cause.schema_path:
        return (f"{key}: the name {cause.instance!r} is not allowed; names are letters, digits, _ and - "
                "(no spaces or line breaks)")
    return f"{key}: {cause.message}"


def load_config(path: str | Path) -> dict:
    """A config file, checked against the workflow's schema, defaults filled in."""
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise CliError(f"{path}: expected a mapping of config keys")
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(workflow_file(SCHEMA)), set_default=True)
    except WorkflowError as err:
        raise CliError(f"{path}: {_validation_message(err)}") from None
    return config


def workflow_file(path: Path) -> Path:
    if not path.is_file():
        raise CliError(f"{path}: the workflow's files are not next to this installation of effaug; "
                       "install it from its repository (`make setup` there)")
    return path


def choose(kind: str, given: str | None, options: Sequence[str], flag: str) -> str:
    """The named option, or the only one when none is named."""
    options = list(options)
    if given is None:
        if len(options) == 1:
            return options[0]
        raise CliError(f"the config has several {kind}s ({', '.join(options)}); pick one with {flag}")
    if given not in options:
        raise CliError(f"{flag} {given}: not a {kind} of the config; it has {', '.join(options)}")
    return given


# --------------------------------------------------------------------------
# Running the workflow


def run_workflow(config: str | Path | None, cores: int | None = None, profile: str | None = None,
                 dry_run: bool = False, directory: str | Path = ".", targets: Sequence[str] = (),
                 extra: Sequence[str] = (), quiet: bool = False) -> None:
    """Run the workflow in ``directory`` through Snakemake's API (its
    command-line parser, so profiles and every other option work as with
    ``snakemake``). Raises CliError if it fails."""
    from snakemake.cli import args_to_api, parse_args

    # --quiet takes several values: first, so that it cannot swallow the targets
    argv = ["--quiet", "rules", "progress", "host"] if quiet else []
    argv += ["--snakefile", str(workflow_file(SNAKEFILE)), "--directory", str(directory)]
    if config is not None:
        argv += ["--configfile", str(Path(config).resolve())]
    if cores is not None:
        argv += ["--cores", str(cores)]
    elif profile is None and not any(a.startswith(("--cores", "-c", "--jobs", "-j")) for a in extra):
        argv += ["--cores", "all"]
    if profile is not None:
        argv += ["--profile", profile]
    if dry_run:
        argv.append("--dry-run")
    argv += [*extra, *targets]
    try:
        parser, args = parse_args(argv)
        success = args_to_api(args, parser)
    except SystemExit as exit:
        success = exit.code == 0
    except Exception as err:  # Snakemake reports workflow and config errors as exceptions
        from snakemake.exceptions import print_exception

        print_exception(err)
        success = False
    if not success:
        raise CliError("the workflow failed; the messages above say why (logs under results/logs/)")


def results_dir(directory: str | Path) -> Path:
    return Path(directory).resolve() / "results"


# --------------------------------------------------------------------------
# init


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower()
    return slug if slug and slug[0].isalpha() else f"data_{slug}"


def _budgets(n: int) -> tuple[list[int], list[float]]:
    fractions = [0.05, 0.1, 0.25]
    budgets = {round(f * n) for f in (0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0)} | {1, n}
    summary = [f for f in fractions if round(f * n) >= 1]
    return sorted(b for b in budgets if 1 <= b <= n), summary


def _survey_images(root: Path, files: Sequence[str], sample: int = 200) -> tuple[Counter, bool]:
    """Sizes (h, w) of up to ``sample`` images spread over the folder, and whether any is in colour."""
    import numpy as np

    from effaug.datasets import image_folder

    step = max(1, len(files) // sample)
    sizes, colour = Counter(), False
    for name in list(files)[::step][:sample]:
        image = image_folder.decode(root / name, 3)
        sizes[image.shape[:2]] += 1
        if not colour:
            colour = not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))
    return sizes, colour


def _featurizer_for(size: tuple[int, int], channels: int) -> tuple[str, int, str]:
    """A built-in architecture for the image size (and its feature dimension), with the reason."""
    if channels == 1 and max(size) <= 48:
        return "mnist_cnn", 512, "small grayscale images: the paper's MNIST CNN (512-d features)"
    return "resnet_v2", 256, "colour or larger images: ResNet-20 v2 (256-d features)"


def init_config(source: str, path: Path, name: str | None = None) -> tuple[str, str]:
    """The text of a commented config for the data at ``path``, and the dataset's name."""
    from effaug import datasets as ds
    from effaug.multinomial import MAX_FULL_HESSIAN

    path = path.resolve()
    name = name or _slug(path.stem)
    notes = []
    if source == "image_folder":
        from effaug.datasets import image_folder

        listing = image_folder.list_images(path, image_folder.parse_options({}))
        classes, train_labels = listing.class_names, listing.train_labels
        sizes, colour = _survey_images(path, listing.train_files + listing.test_files)
        common, count = sizes.most_common(1)[0]
        size = common if max(common) <= 64 else (min(64, common[0]), min(64, common[1]))
        channels = 3 if colour else 1
        split = ("train/ and test/ folders" if (path / "train").is_dir() and (path / "test").is_dir()
                 else "one tree, 20% of each class held out as the test set (test_fraction)")
        size_note = (f"all {sum(sizes.values())} surveyed images are {common[0]}x{common[1]}" if len(sizes) == 1
                     else f"sizes differ ({', '.join(f'{h}x{w}' for (h, w), _ in sizes.most_common(4))}, ...); "
                          f"{common[0]}x{common[1]} is the most common")
        if size != common:
            size_note += "; capped at 64 pixels to keep CPU training short"
        source_lines = [
            "    source: image_folder",
            f"    path: {path}",
            f"    # {len(classes)} classes ({', '.join(classes[:12])}{', ...' if len(classes) > 12 else ''}); {split}",
            f"    image_size: [{size[0]}, {size[1]}]  # {size_note}",
            f"    channels: {channels}  # {'colour images found' if colour else 'every surveyed image is gray'}",
        ]
    else:
        raw = ds.load("arrays", path)
        classes, train_labels = raw.class_names, raw.train_labels
        size, channels = raw.train_images.shape[1:3], raw.train_images.shape[3]
        source_lines = [
            "    source: arrays",
            f"    path: {path}",
            f"    # {len(classes)} classes ({', '.join(classes[:12])}{', ...' if len(classes) > 12 else ''}); "
            f"images {size[0]}x{size[1]}x{channels}",
        ]
    n = len(train_labels)
    if len(classes) < 2:
        raise CliError(f"{path}: one class only ({classes[0] if classes else 'none'}); a task needs two or more")
    architecture, d, why = _featurizer_for(tuple(size), channels)
    budgets, fractions = _budgets(n)
    structure = "full"
    if (d + 1) * len(classes) > MAX_FULL_HESSIAN:
        structure = "block_diagonal"
        notes.append(f"  # {len(classes)} classes x {d + 1} parameters exceed an exact Hessian's "
                     f"{MAX_FULL_HESSIAN}: per-class blocks")
    shift = max(1, round(min(size) / 14))
    text = "\n".join([
        f"# effaug configuration for {path}",
        f"# written by `effaug init` on {datetime.date.today().isoformat()}; every key is described in",
        "# config/README.md of the effaug repository. Run it with",
        "#   effaug run THIS_FILE --cores 8",
        "# then ask which points to augment (effaug select) and how many (effaug plan).",
        "",
        "datasets:",
        f"  {name}:",
        *source_lines,
        "    classes: all",
        f"    n_train: {n}  # every training image: the selection ranks all of them",
        "    train_subset: first",
        "    featurizer:",
        f"      architecture: {architecture}  # {why}",
        "      epochs: 40",
        "      batch_size: 128",
        "      learning_rate: 0.001",
        "      seed: 0",
        "      threads: 2",
        "      # a longer training: the rate times 0.1 from the 32nd epoch (0-based index > 30), per-pixel mean,",
        "      # random shifts and flips of the training batches, a checkpoint per epoch to resume from:",
        "      # lr_schedule: [[30, 0.1]]",
        "      # preprocessing: pixel_mean",
        "      # training_shift: 0.1",
        "      # training_flip: true",
        "      # resume: true",
        "      # or your own trained model, used frozen (no training):",
        "      # file: /path/to/model.keras",
        "      # layer: name_of_the_feature_layer",
        "      # input_range: [0, 1]",
        "    augmentations:  # one or more; with several, pass --augmentation to select and plan",
        f"      translate: {{shift: {shift}}}  # four diagonal shifts of {shift} pixels",
        "      # rotate: {max_angle: 15, n_angles: 4}  # -15, -5, 5, 15 degrees",
        "      # any imgaug augmenters, `copies` seeded draws per image:",
        "      # flip_rotate:",
        "      #   imgaug: [{Fliplr: 0.5}, {Affine: {rotate: [-10, 10]}}]",
        "      #   copies: 4",
        "",
        "experiment:",
        "  featurizer_mode: frozen",
        "  scores: [loss, influence]",
        "  policies: [baseline, rand-prop, det-prop, rand-prop-down]",
        f"  budgets: {budgets}",
        "  seeds: 5",
        f"  summary_fractions: {fractions}",
        f"  hessian_structure: {structure}",
        *notes,
        "  epoch_timing:",
        "    enabled: false",
        "",
    ])
    return text, name


def cmd_init(args) -> int:
    source, data = ("image_folder", args.images) if args.images else ("arrays", args.arrays)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CliError(f"{out}: exists; pass --force to overwrite it or --out to write elsewhere")
    from effaug.datasets import DatasetError

    try:
        text, name = init_config(source, Path(data), args.name)
    except DatasetError as err:
        raise CliError(str(err)) from None
    from effaug.runtime import atomic_output

    with atomic_output(out) as tmp:
        tmp.write_text(text)
    load_config(out)  # what we wrote must pass the schema
    print(f"wrote {out} (dataset {name!r}); read it, then run:\n  effaug run {out} --cores {args.cores_hint}")
    return 0


# --------------------------------------------------------------------------
# run


CONFIGFILE_OPTIONS = ("--configfile", "--configfiles")


def split_configfiles(extra: Sequence[str]) -> tuple[list[str], list[str]]:
    """Snakemake's ``--configfile FILE ...`` options taken out of ``extra``:
    (the other arguments, the files). As in Snakemake, the files run up to
    the next option."""
    rest, files, taking = [], [], False
    for arg in extra:
        name, eq, value = arg.partition("=")
        if name in CONFIGFILE_OPTIONS:
            taking = not eq
            files += [value] if eq else []
        elif taking and not arg.startswith("-"):
            files.append(arg)
        else:
            taking = False
            rest.append(arg)
    return rest, files


def live_runs(directory: str | Path) -> list[int]:
    """Process ids of the live Snakemake or effaug processes working in
    ``directory`` (their current directory), other than this process and its
    parents; read from /proc (Linux), empty where there is none."""
    target = Path(directory).resolve()
    ours = _ancestors()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid in ours:
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone, or another user's
            continue
        if cwd == target and _is_workflow_command([a.decode(errors="replace") for a in argv if a]):
            found.append(pid)
    return sorted(found)


def _ancestors() -> set[int]:
    """This process and its parents."""
    pids, pid = set(), os.getpid()
    while pid > 0 and pid not in pids:
        pids.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            break
        pid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), 0)
    return pids | {os.getppid()}


def _is_workflow_command(argv: Sequence[str]) -> bool:
    """Whether a command line runs snakemake or effaug (as the program, the
    script of an interpreter, or ``-m`` module)."""
    for i, arg in enumerate(argv[:4]):
        if Path(arg).name in ("snakemake", "effaug"):
            return True
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1].split(".")[0] in ("snakemake", "effaug"):
            return True
    return False


def check_not_locked(directory: str | Path, unlocking: bool = False) -> None:
    """CliError where Snakemake's lock of ``directory`` is held: by a live run
    (never to be unlocked while it runs) or left by an interrupted one."""
    directory = Path(directory).resolve()
    locks = directory / ".snakemake" / "locks"
    if not (locks.is_dir() and any(locks.iterdir())):
        return
    pids = live_runs(directory) if Path("/proc/self/cwd").exists() else None
    if pids:
        raise CliError(f"another run (pid {', '.join(map(str, pids))}) is working in {directory}; wait for it "
                       "to finish or stop it; do not --unlock while it runs")
    if unlocking:
        return
    if pids is None:  # no /proc: cannot tell
        raise CliError(f"{directory} is locked ({locks}): another run is working there, or a previous run was "
                       "interrupted; only if no run is alive, `effaug run --unlock` clears the stale lock")
    raise CliError(f"{directory} is locked but no run is alive there: a previous run was interrupted; "
                   "`effaug run --unlock` (or `snakemake --unlock`) clears the stale lock, then run again")


def cmd_run(args, extra: Sequence[str]) -> int:
    extra, given = split_configfiles(extra)
    configs = ([args.config] if args.config is not None else []) + given
    for path in configs:
        read_yaml(path)  # missing or not YAML: named, with the line, before Snakemake starts
    unlocking = "--unlock" in extra
    if not (args.dry_run or "--nolock" in extra):
        check_not_locked(args.directory, unlocking)
    if len(configs) > 1:  # merged by Snakemake, later files winning; the workflow checks the result
        extra = [*extra, "--configfile", *(str(Path(c).resolve()) for c in configs)]
        config = None
    else:
        config = configs[0] if configs else workflow_file(REPOSITORY / "config" / "config.yaml")
        load_config(config)
    run_workflow(config, args.cores, args.profile, args.dry_run, args.directory, extra=extra)
    if unlocking:
        print(f"unlocked {Path(args.directory).resolve()}")
    elif not args.dry_run:
        print(f"done; outputs under {results_dir(args.directory)}")
    return 0


# --------------------------------------------------------------------------
# select and plan


def _request(args, config: Mapping) -> tuple[str, str, dict]:
    datasets = config["datasets"]
    dataset = choose("dataset", args.dataset, list(datasets), "--dataset")
    augmentation = choose("augmentation", args.augmentation, list(datasets[dataset]["augmentations"]),
                          "--augmentation")
    return dataset, augmentation, datasets[dataset]


def cmd_select(args) -> int:
    import numpy as np

    from effaug import recommend
    from effaug.policies import PolicyError, parse_policy
    from effaug.provenance import read_json
    from effaug.results_io import read_order
    from effaug.runtime import atomic_output
    from effaug.stores import read_arrays
    from effaug.task import read_points

    config = load_config(args.config)
    experiment = config["experiment"]
    dataset, augmentation, cfg = _request(args, config)
    policy_name = choose("policy", args.policy, experiment["policies"], "--policy")
    try:
        policy = parse_policy(policy_name)
    except PolicyError as err:
        raise CliError(str(err)) from None
    if policy.kind == "vsv":
        raise CliError("--policy vsv augments the support vectors of an SVM, a set rather than an order; "
                       "pick an ordering policy (e.g. det-prop with --score svm_margin)")
    score = choose("score", args.score, experiment["scores"], "--score") if policy.uses_score else "none"
    n = cfg["n_train"]
    budget = recommend.parse_budget(args.budget, n)
    seeds = experiment["seeds"] if policy.stochastic else 1
    if not 0 <= args.seed < seeds:
        raise CliError(f"--seed {args.seed}: the config runs seeds 0..{seeds - 1} of {policy_name}")
    seed = args.seed if policy.stochastic else 0
    base = f"results/{dataset}/{augmentation}"
    curve = f"{base}/{score}/{policy_name}/seed{seed}"
    # a retrain-mode curve job trains a CNN per budget; a static order needs only the features and scores
    order_here = policy.nested and (cfg.get("featurizer_mode") or experiment["featurizer_mode"]) == "retrain"
    if order_here:
        target = f"{base}/features.h5"
    elif policy.nested:
        target = f"{curve}/order.tsv"
    elif budget in experiment["budgets"]:
        target = f"{curve}/budget{budget}.json"
    else:
        raise CliError(f"--policy {policy_name} chooses a new set at every budget, so only the config's "
                       f"budgets {sorted(experiment['budgets'])} can be asked for; got {budget}")
    targets = [f"results/{dataset}/task.h5", f"{base}/scores.h5", target]
    if not args.no_run:
        run_workflow(args.config, args.cores, args.profile, False, args.directory, targets=targets, quiet=True)
    root = Path(args.directory).resolve()
    if order_here:
        from effaug.experiment import static_order
        from effaug.features import read_features
        from effaug.settings import Settings

        values = read_arrays(root / targets[1], [score])[0][score] if policy.uses_score else None
        train = read_features(root / target).train
        points = static_order(policy, values, train, seed, Settings.from_config(experiment), score)[:budget]
    elif policy.nested:
        points = read_order(root / target)[:budget]
    else:
        points = np.asarray(read_json(root / target)["points"], dtype=np.int64)
    point_ids, labels, class_names, paths = read_points(root / targets[0])
    scores = read_arrays(root / targets[1], [score])[0][score] if policy.uses_score else None
    table = recommend.selection_table(points, point_ids, labels, class_names, scores, paths)
    if paths is not None and cfg["source"] == "image_folder":
        folder = (Path(config.get("data_root", ".")) / cfg["path"])
        table["path"] = [str(folder / p) if args.absolute_paths else p for p in table["path"]]
    out = Path(args.out)
    with atomic_output(out) as tmp:
        table.to_csv(tmp, index=False)
    what = f"{policy.label} ({score})" if policy.uses_score else policy.label
    print(f"wrote {out}: {budget} of {n} points ({budget / n:.1%}) to augment, chosen by {what}, "
          f"{dataset} / {augmentation}, seed {seed}")
    return 0


def cmd_plan(args) -> int:
    import pandas as pd

    from effaug import recommend
    from effaug.plots import save
    from effaug.provenance import read_json

    config = load_config(args.config)
    dataset, augmentation, cfg = _request(args, config)
    base = f"results/{dataset}/{augmentation}"
    targets = [f"{base}/curves.csv", f"{base}/references.json"]
    if not args.no_run:
        run_workflow(args.config, args.cores, args.profile, False, args.directory, targets=targets, quiet=True)
    root = Path(args.directory).resolve()
    curves = pd.read_csv(root / targets[0], float_precision="round_trip")
    references = read_json(root / targets[1])
    n, k = int(references["n_train"]), int(references["n_transforms"])
    no_aug, full_aug = references["no_augmentation_accuracy"], references["full_augmentation_accuracy"]
    closed = recommend.gap_closed(curves, no_aug, full_aug, args.confidence)
    plan = recommend.plan_budgets(closed, args.target, n, k)
    print(f"{dataset} / {augmentation}: n = {n} training points, K = {k} copies each; accuracy on the poisoned "
          f"test set: no augmentation {no_aug:.4f}, full augmentation {full_aug:.4f} ({k * n} augmented images)")
    print(f"smallest budget closing >= {args.target:.0%} of that gap (mean over seeds, "
          f"{args.confidence:.0%} interval):")
    for _, row in plan.iterrows():
        name = f"{row['label']} ({row['score']})" if row["score"] else row["label"]
        interval = f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        if row["reached"]:
            print(f"  {name:<34} {int(row['budget']):>6} points ({row['fraction']:6.1%}): gap closed "
                  f"{row['gap_closed']:.2f} {interval}, accuracy {row['accuracy']:.4f}; "
                  f"{int(row['images_saved'])} augmented images saved ({1 - row['fraction']:.0%})")
        else:
            print(f"  {name:<34} no budget reaches it: at best {row['gap_closed']:.2f} {interval} of the gap")
    if not plan["reached"].any():
        print(f"no policy closes {args.target:.0%} of the gap at any budget of the config; "
              "lower --target or add larger budgets")
    figure = recommend.plan_figure(closed, plan, args.target, n, f"{dataset} / {augmentation}: gap closed "
                                   f"against the budget (target {args.target:.0%}; * = chosen)")
    out = Path(args.figure) if args.figure else root / base / "figures" / f"plan_{args.target:g}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save(figure, out, None)
    if args.out:
        from effaug.runtime import atomic_output

        with atomic_output(Path(args.out)) as tmp:
            plan.to_csv(tmp, index=False)
    print(f"figure: {out}" + (f"; table: {args.out}" if args.out else ""))
    return 0


# --------------------------------------------------------------------------
# slurm-status (the job-status command of the cluster-generic profile)


def slurm_state(job_id: str, attempts: int = 5, pause: float = 2.0) -> str:
    """running, success or failed, from ``sacct`` (falling back to ``scontrol``
    while accounting has not seen the job yet)."""
    for _ in range(attempts):
        out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job_id, "--format=State"],
                             capture_output=True, text=True)
        states = [line.split()[0] for line in out.stdout.splitlines() if line.strip()]
        if not states:
            out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
            for token in out.stdout.split():
                if token.startswith("JobState="):
                    states = [token.split("=", 1)[1]]
        if states:
            state = states[0].rstrip("+")
            if state == "COMPLETED":
                return "success"
            return "running" if state in RUNNING else "failed"
        time.sleep(pause)
    return "running"  # not known yet: ask again at the next status poll


def cmd_slurm_status(args) -> int:
    try:
        state = slurm_state(args.job_id.split(";")[0])
    except FileNotFoundError as err:
        raise CliError(f"SLURM's commands ({err.filename or 'sacct, scontrol'}) were not found on PATH; run this "
                       "on a SLURM cluster (where sacct and scontrol are installed) or put them on PATH") from None
    print(state)
    return 0


# --------------------------------------------------------------------------
# The parser


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None, metavar="CONFIG",
                        help="the config file (default: the embedded MNIST demo, config/config.yaml)")


def _workflow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cores", type=int, default=None, metavar="N",
                        help="CPU cores for local jobs (default: all of them, unless --profile sets them)")
    parser.add_argument("--profile", default=None, metavar="P",
                        help="a Snakemake profile folder, e.g. profiles/slurm (see README, 'Run on a cluster')")
    parser.add_argument("--directory", default=".", metavar="DIR",
                        help="the working directory: results/ lands under it (default: the current one)")


def _request_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="CONFIG", help="the config file the run used")
    parser.add_argument("--dataset", metavar="D", help="a dataset of the config (default: its only one)")
    parser.add_argument("--augmentation", metavar="A", help="an augmentation of the dataset (default: its only one)")
    parser.add_argument("--no-run", action="store_true",
                        help="only read the cached results; do not run the workflow for missing ones")
    _workflow_options(parser)


def cmd_verify(args) -> int:
    from effaug.verify import VerifyError, describe, verify

    if args.config is not None:
        read_yaml(args.config)
    try:
        report = verify(workflow_file(SNAKEFILE), args.config, args.directory, args.fix)
    except VerifyError as err:
        raise CliError(str(err)) from None
    print(describe(report, args.fix))
    return 1 if report.bad and not args.fix else 0


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog="effaug", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"effaug {version('effaug')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="write a commented config for your images or arrays",
                               description="Survey your data and write a config for it, with defaults for its "
                                           "image size and number of classes; prints the next command.")
    data = init.add_mutually_exclusive_group(required=True)
    data.add_argument("--images", metavar="DIR", help="a folder with one subfolder of images per class "
                      "(or train/ and test/ folders of class folders); PNG, JPEG, BMP, TIFF")
    data.add_argument("--arrays", metavar="FILE", help="a .npz or .h5 file with x_train, y_train, x_test, y_test "
                      "(uint8 images N x H x W [x C]) and optionally class_names")
    init.add_argument("--out", default="effaug.yaml", metavar="CONFIG", help="the config to write "
                      "(default: effaug.yaml)")
    init.add_argument("--name", metavar="NAME", help="the dataset's name in results/ (default: from the path)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config")
    init.set_defaults(handler=cmd_init, cores_hint=8)

    run = commands.add_parser("run", help="run the workflow (Snakemake) on a config",
                              description="Run the workflow through Snakemake's API. Options not listed here "
                                          "are passed to Snakemake (e.g. --keep-going, --rerun-incomplete, "
                                          "targets).")
    _config_argument(run)
    run.add_argument("--dry-run", "-n", action="store_true", help="show the jobs, run nothing")
    _workflow_options(run)
    run.set_defaults(handler=cmd_run)

    select = commands.add_parser("select", help="write the points to augment, in order, as CSV",
                                 description="Write the chosen training points in the order chosen: rank, "
                                             "point_id, path (image folders) or array_index, class, score. Runs "
                                             "the workflow for what it needs first.")
    _request_options(select)
    select.add_argument("--score", metavar="S", help="loss, influence, ... (default: the config's only score)")
    select.add_argument("--policy", metavar="P", help="e.g. rand-prop, det-prop, baseline "
                        "(default: the config's only policy)")
    select.add_argument("--budget", required=True, metavar="B",
                        help="how many points: a count (25), a fraction (0.1) or a percentage (10%%) of n_train")
    select.add_argument("--seed", type=int, default=0, help="the seed of a random policy (default 0)")
    select.add_argument("--out", default="chosen.csv", metavar="CSV", help="the CSV to write (default chosen.csv)")
    select.add_argument("--absolute-paths", action="store_true", help="write image paths as absolute paths "
                        "(default: relative to the image folder)")
    select.set_defaults(handler=cmd_select)

    plan = commands.add_parser("plan", help="the smallest budget that closes a share of the augmentation gap",
                               description="For each scored policy: the smallest budget whose accuracy closes at "
                                           "least --target of the no-augmentation -> full-augmentation gap, with "
                                           "its confidence interval over seeds and the augmented images it saves; "
                                           "writes a figure of the gap closed against the budget.")
    _request_options(plan)
    plan.add_argument("--target", type=float, default=0.9, metavar="T",
                      help="the share of the gap to close, in (0, 1] (default 0.9)")
    plan.add_argument("--confidence", type=float, default=0.95, help="of the interval over seeds (default 0.95)")
    plan.add_argument("--figure", metavar="PNG", help="where to write the figure "
                      "(default results/<dataset>/<augmentation>/figures/plan_<target>.png)")
    plan.add_argument("--out", metavar="CSV", help="also write the table as CSV")
    plan.set_defaults(handler=cmd_plan)

    check = commands.add_parser("verify", help="check every output's integrity and provenance",
                                description="Read every file under results/ whole and compare every cached "
                                            "file's provenance record with the config. Lists the bad files "
                                            "(exit 1); with --fix removes them, so that the next run rebuilds them.")
    _config_argument(check)
    check.add_argument("--directory", "-d", default=".", metavar="DIR",
                       help="the working directory holding results/ (default: the current one)")
    check.add_argument("--fix", action="store_true", help="remove the bad files (the next run rebuilds them)")
    check.set_defaults(handler=cmd_verify)

    status = commands.add_parser("slurm-status", help="print running, success or failed for a SLURM job id "
                                 "(the cluster-generic profile's status command)")
    status.add_argument("job_id")
    status.set_defaults(handler=cmd_slurm_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args, extra) if args.command == "run" else args.handler(args)
    except CliError as err:
        print(f"effaug {args.command}: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # the library's errors (data, features, scores, budgets) name what is wrong
        print(f"effaug {args.command}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"effaug {args.command}: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] not in WORKFLOW_MODULES:
            raise
        print(f"effaug {args.command} needs the workflow extra ({err.name} is not installed): "
              "pip install 'effaug[workflow]'", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
