"""The config schema documents and defaults every key, and config/README.md lists them."""

import yaml

from tests.conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
README = (REPO / "config/README.md").read_text()


def resolve(node):
    ref = node.get("$ref")
    return SCHEMA["definitions"][ref.rsplit("/", 1)[1]] if ref else node


def walk(node, prefix=""):
    node = resolve(node)
    required = set(node.get("required", []))
    choice = "minProperties" in node  # pick at least one of these keys: none has a default
    for key, child in node.get("properties", {}).items():
        yield f"{prefix}{key}", key in required or choice, {**resolve(child), **child}
        yield from walk(child, f"{prefix}{key}.")
    for alternative in node.get("oneOf", []):  # e.g. a built-in augmentation or a custom one
        if "properties" in resolve(alternative):
            yield from walk(alternative, prefix)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and ("properties" in resolve(extra)):
        yield from walk(extra, f"{prefix}<name>.")


KEYS = list(walk(SCHEMA))


def test_schema_has_many_keys():
    assert len(KEYS) > 25


def test_every_key_has_a_description_and_optional_keys_a_default():
    for key, required, node in KEYS:
        assert node.get("description"), f"{key} has no description"
        assert required or "default" in node, f"optional key {key} has no default"


def test_every_key_is_documented_in_config_readme():
    for key, _, _ in KEYS:
        parts = key.split("<name>.")[-1].split(".")
        suffixes = [".".join(parts[i:]) for i in range(len(parts))]
        assert any(f"`{s}`" in README for s in suffixes), key


def test_default_config_is_valid():
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    assert config["datasets"]["mnist"]["featurizer"]["predict_batch_size"] == 1024  # default filled in


def test_conda_environment_pins_the_lock_file():
    env = yaml.safe_load((REPO / "envs/effaug.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    lock = [line.strip() for line in (REPO / "requirements.lock").read_text().splitlines() if line.strip()]
    assert [p for p in pip if not p.startswith("-e")] == lock
    assert "-e ${EFFAUG_HOME}" in pip
