"""Fetch a source's files into its data folder, verified by MD5."""

from pathlib import Path

from effaug.datasets import download_source
from effaug.runtime import job

with job(snakemake.log[0], snakemake.threads, snakemake.config["resources"]["kernels"]):
    download_source(snakemake.params.files, Path(snakemake.params.directory), Path(snakemake.output.record))
