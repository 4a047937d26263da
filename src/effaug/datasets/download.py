"""Fetching a source's files (``snakemake download``), verified by MD5.

The files of each source are its :attr:`Source.downloads`
(``effaug.datasets.DOWNLOADS`` by source name).
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from effaug.datasets.base import DatasetError
from effaug.runtime import atomic_output

log = logging.getLogger("effaug.datasets")


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_url(url: str) -> str:
    """``url`` if it may be fetched: https, or http to this machine only (a
    local mirror). Raises DatasetError otherwise: data is never fetched in
    clear text over a network."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    raise DatasetError(f"{url}: downloads use https:// only (http:// only to this machine, "
                       f"{', '.join(LOOPBACK_HOSTS)}); change the URL's scheme")


def download(urls: tuple[str, ...] | list[str], destination: Path, md5: str,
             timeout: float = 60.0) -> str:
    """Fetch the first URL that answers into ``destination`` and verify its
    MD5. The file appears only once verified (written to a temporary name,
    then renamed); on failure nothing is left behind. Returns the URL used."""
    import urllib.request  # here, not at the top: every job imports this module, and urllib.request ~40 ms

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    errors = []
    for url in urls:
        check_url(url)
        try:
            digest = hashlib.md5()
            with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError) as err:
            partial.unlink(missing_ok=True)
            errors.append(f"{url}: {err}")
            continue
        if digest.hexdigest() != md5:
            partial.unlink(missing_ok=True)
            errors.append(f"{url}: MD5 {digest.hexdigest()} does not match the expected {md5}")
            continue
        os.replace(partial, destination)
        return url
    raise DatasetError(f"could not download {destination.name}:\n  " + "\n  ".join(errors))


def download_source(files: Mapping[str, Mapping], directory: Path, record: Path) -> None:
    """Download every file of a source into ``directory`` unless a file with
    the right MD5 is already there; write a TSV record (name, md5, url).
    ``files`` maps each file name to ``{"urls": [...], "md5": ...}`` and,
    where the config replaced the published MD5, ``"published_md5"``."""
    directory = Path(directory)
    rows = []
    for name, spec in files.items():
        if spec.get("published_md5") not in (None, spec["md5"]):
            log.warning("%s: checked against %s from download.checksums, not the published MD5 %s",
                        name, spec["md5"], spec["published_md5"])
        destination = directory / name
        if destination.is_file() and md5sum(destination) == spec["md5"]:
            log.info("%s: present and verified", destination)
            rows.append((name, spec["md5"], "present"))
            continue
        log.info("%s: downloading", destination)
        url = download(spec["urls"], destination, spec["md5"])
        log.info("%s: fetched from %s and verified", destination, url)
        rows.append((name, spec["md5"], url))
    with atomic_output(record) as tmp:
        tmp.write_text("file\tmd5\turl\n" + "".join("\t".join(r) + "\n" for r in rows))
