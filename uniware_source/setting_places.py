"""Settings given where dlt never reads them for this source, so it ignores them without a word.

dlt reads the source's settings from `SOURCES__UNIWARE__<NAME>` and the TOML tables `[sources.uniware]`,
`[sources.uniware.uniware]`, `[sources]` and the top level, each also under a pipeline's name
(`[<pipeline>.sources.uniware]`, `<PIPELINE>__...`), and the active pipeline's own table. A newcomer's
`[source.uniware]`, `[uniware]`, `[sources.unicommerce]`, `SOURCE__UNIWARE__BASE_URL` or
`SOURCES_UNIWARE_BASE_URL` was ignored and the run went on with defaults (another report, another
window) or asked for a setting that was given. Only those shapes are looked for: a deployment's own
`UNIWARE_PASSWORD`, another pipeline's tables and the `tenants` tables are no mistake.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import dlt

ENV_PREFIX = "SOURCES__UNIWARE__"
# an env var shaped like dlt's but not read: SOURCE__UNIWARE__X, SOURCES_UNIWARE_X, UNIWARE__X, SOURCES__UNICOMMERCE__X
_ENV_SHAPE = re.compile(r"^(?:(SOURCES?)_{1,2})?(UNIWARE|UNICOMMERCE)(_{1,2})(\w+)$")
_TOML_DEPTH = 3  # [<pipeline>.sources.<source>] at most


def misplaced_settings(names: set[str]) -> list[tuple[str, str]]:
    """(setting, where) of each of `names` given where dlt does not read it for this source, unless the
    same setting is also given where dlt reads it (a copy made on purpose)."""
    pipeline = _active_pipeline()
    found = _misplaced_env(names, pipeline)
    given_right = {name[len(ENV_PREFIX):].lower() for name in os.environ if name.startswith(ENV_PREFIX)}
    for provider in dlt.config.config_providers:
        document = getattr(provider, "_config_doc", None)
        if not isinstance(document, Mapping):
            continue
        for path, key, read in _settings_in(document, [], names, pipeline):
            if read:
                given_right.add(key)
            elif _misplaced(path, pipeline):
                found.append((key, f"{provider.name} [{'.'.join(path)}], a table dlt does not read for this "
                                   "source: put it under [sources.uniware]"))
    return [(key, where) for key, where in found if key not in given_right]


def _misplaced_env(names: set[str], pipeline: Optional[str]) -> list[tuple[str, str]]:
    found = []
    for name in os.environ:
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) or (pipeline and upper.startswith(pipeline.upper() + "__")):
            continue
        shape = _ENV_SHAPE.match(upper)
        if shape is None or (shape.group(1) is None and shape.group(3) == "_"):
            continue  # UNIWARE_PASSWORD: a deployment's own variable, not dlt's shape
        setting = shape.group(4).lower()
        if setting in names:
            found.append((setting, f"environment variable {name}, which dlt does not read: "
                                   f"name it {ENV_PREFIX}{setting.upper()}"))
    return found


def _settings_in(table: Mapping[str, Any], path: list[str], names: set[str],
                 pipeline: Optional[str]) -> list[tuple[list[str], str, bool]]:
    """(path, setting, whether dlt reads it there) of every setting name in the tables of `table`."""
    read = _read_here(path, pipeline)
    found = [(path, key, read) for key, value in table.items() if key in names and not isinstance(value, Mapping)]
    if len(path) < _TOML_DEPTH and path[:1] != ["tenants"]:
        for key, value in table.items():
            if isinstance(value, Mapping):
                found += _settings_in(value, [*path, key], names, pipeline)
    return found


def _read_here(path: Sequence[str], pipeline: Optional[str]) -> bool:
    """Whether dlt reads this source's settings from the table at `path` (for some pipeline)."""
    rest = list(path[1:]) if len(path) >= 2 and path[1] == "sources" else list(path)  # [<pipeline>.sources...]
    if pipeline and list(path) == [pipeline]:
        return True
    return not rest or rest == ["sources"] or rest[:2] == ["sources", "uniware"]


def _misplaced(path: Sequence[str], pipeline: Optional[str]) -> bool:
    """Whether the table at `path` is a misspelling of the source's: `[uniware]`, `[source.uniware]`,
    `[Sources.Uniware]`, `[sources.unicommerce]` (also under a pipeline's name)."""
    rest = list(path[1:]) if len(path) >= 2 and _sources_like(path[1]) else list(path)
    if len(rest) == 1:  # `[uniware_dev]` may be another pipeline's table: only the source's own words
        return rest[0] != pipeline and rest[0].lower() in ("uniware", "unicommerce", "source")
    head, name = rest[0], rest[1]
    if head == "sources":
        return name != "uniware" and _uniware_like(name)
    return _sources_like(head) and _uniware_like(name)


def _uniware_like(word: str) -> bool:
    return bool(difflib.get_close_matches(word.lower(), ("uniware", "unicommerce"), n=1, cutoff=0.75))


def _sources_like(word: str) -> bool:
    lowered = word.lower()
    return lowered != "resources" and (lowered == "source" or lowered == "sources" or
                                       bool(difflib.get_close_matches(lowered, ("sources",), n=1, cutoff=0.8)))


def _active_pipeline() -> Optional[str]:
    from dlt.common.configuration.container import Container
    from dlt.common.pipeline import PipelineContext

    context = Container()[PipelineContext]
    return context.pipeline().pipeline_name if context.is_active() else None


def secrets_file() -> str:
    """The secrets.toml dlt reads, as an absolute path, and whether it is there: `.dlt` is looked for in the folder
    the command runs in (or DLT_PROJECT_DIR), so a file made in the clone is not read from elsewhere."""
    path = (Path(dlt.current.run_context().settings_dir) / "secrets.toml").resolve()
    return str(path) if path.exists() else (f"{path} (not there: dlt reads .dlt in the folder the command runs in, "
                                            "or in DLT_PROJECT_DIR)")
