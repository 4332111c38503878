"""mkdocs hook: build every catalogue page from the data at build time. Nothing generated is committed.

The data folder is ``$HEADS_DATA_DIR`` if set, else the repository's ``data/``. Pages come from
:func:`catalogue.render.pages`; the home page's introduction is ``site/_sources/intro.md`` and the
contributing page is the repository's ``CONTRIBUTING.md``. A data error fails the build, listing every error.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.catalogue_pages")

_PAGES: dict[str, str] = {}


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def on_config(config: MkDocsConfig, **_: Any) -> MkDocsConfig:
    from catalogue import render
    from catalogue.cli_site import command_docs
    from catalogue.loader import check

    cat, problems = check(None)
    for p in problems:
        if p.severity != "error":
            log.info("catalogue data: %s", p)
    if cat is None:
        errors = "\n".join(str(p) for p in problems if p.severity == "error")
        raise PluginError(f"the catalogue data does not validate (run `heads validate`):\n{errors}")
    docs = Path(config.docs_dir)
    intro = (docs / "_sources" / "intro.md").read_text(encoding="utf-8")
    _PAGES.clear()
    _PAGES.update(render.pages(cat, repo_url=config.repo_url or "", intro=intro, commands=command_docs()))
    _PAGES["contributing.md"] = (_root(config) / "CONTRIBUTING.md").read_text(encoding="utf-8")
    if not config.nav:
        config.nav = render.nav(cat)
    return config


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    for path, markdown in sorted(_PAGES.items()):
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"site/{path} is generated from the catalogue: delete the hand-written copy")
        files.append(File.generated(config, path, content=markdown))
    return files
