"""Header labels to column names, decided once per export and kept forever.

A label keeps the column it got the first time it was seen, whatever the order of later headers;
a new label gets a new column, never one another label already holds. Labels that a naming
convention would collapse to the same identifier (``Tax %`` and ``Tax (%)``) therefore keep apart,
and the mapping is saved in the export's dlt state, so it survives between runs. Non-Latin labels
are transliterated (``कीमत`` -> ``kimt``) to readable, stable names.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional

from anyascii import anyascii

Normalize = Callable[[str], str]

# symbols that carry meaning in Uniware's labels, spelled out before the naming convention drops them
_SPELLED = (("%", " pct "), ("#", " no "), ("&", " and "), ("+", " plus "), ("@", " at "))
# what dlt's own columns are called; a header with such a name must not overwrite them
DLT_COLUMNS = ("_dlt_id", "_dlt_load_id")


def readable_name(label: str, normalize: Normalize) -> str:
    """A readable identifier for a header label: symbols spelled out, other scripts transliterated."""
    text = label.strip()
    for symbol, word in _SPELLED:
        text = text.replace(symbol, word)
    ascii_text = " ".join(re.sub(r"[^0-9A-Za-z_]+", " ", anyascii(text)).split())
    if not any(ch.isalnum() for ch in ascii_text):
        digest = hashlib.sha1(label.encode("utf-8")).hexdigest()[:8]
        return f"column_{digest}" if label.strip() else "unnamed"
    return str(normalize(ascii_text))


def occurrences(header: Iterable[str]) -> list[tuple[str, int]]:
    """Each label with its 1-based occurrence among equal labels (a header can repeat a label)."""
    seen: Counter[str] = Counter()
    result = []
    for raw in header:
        label = raw.strip()
        seen[label] += 1
        result.append((label, seen[label]))
    return result


def same_labels(old: Sequence[str], new: Sequence[str]) -> bool:
    """Whether two headers hold exactly the same labels, in any order (repeats counted)."""
    return Counter(h.strip() for h in old) == Counter(h.strip() for h in new)


def legacy_names(header: Sequence[str], normalize: Normalize, reserved: Iterable[str]) -> dict[str, list[str]]:
    """The names that positional suffixing gave `header` before names were saved (for state written
    by earlier versions, so existing columns keep their names)."""
    used = set(reserved)
    mapping: dict[str, list[str]] = {}
    for position, raw in enumerate(header, start=1):
        text = raw.strip() or f"column_{position}"
        base = name = str(normalize(text))
        suffix = 2
        while name in used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        used.add(name)
        mapping.setdefault(raw.strip(), []).append(name)
    return mapping


class ColumnNames:
    """The label -> column mapping of one export; thread-safe (files convert on worker threads)."""

    def __init__(self, saved: Optional[Mapping[str, Any]], *, normalize: Normalize, reserved: Iterable[str],
                 fixed: Sequence[str] = ()) -> None:
        """`saved`: the mapping from state; `fixed`: labels (the natural key, the dedup column) whose
        column is always the naming convention's own name for them, as the table hints say."""
        self._normalize = normalize
        self._lock = threading.Lock()
        self._names: dict[str, list[str]] = {str(k): [str(n) for n in v] for k, v in (saved or {}).items()}
        self._used = set(reserved) | {n for names in self._names.values() for n in names}
        self.changed = False
        for label in fixed:
            label = label.strip()
            if label not in self._names:
                name = str(normalize(label))
                self._names[label] = [name]
                self._used.add(name)
                self.changed = True

    def names_for(self, header: Sequence[str]) -> list[str]:
        """The column of each label of `header`, assigning new columns to labels never seen before."""
        with self._lock:
            return [self._name(label, occurrence) for label, occurrence in occurrences(header)]

    def name_of(self, label: str) -> Optional[str]:
        with self._lock:
            names = self._names.get(label.strip())
            return names[0] if names else None

    def to_state(self) -> dict[str, list[str]]:
        with self._lock:
            return {label: list(names) for label, names in self._names.items()}

    def _name(self, label: str, occurrence: int) -> str:
        names = self._names.setdefault(label, [])
        while len(names) < occurrence:
            base = readable_name(label, self._normalize)
            name, suffix = base, 2
            while name in self._used:
                name, suffix = f"{base}_{suffix}", suffix + 1
            self._used.add(name)
            names.append(name)
            self.changed = True
        return names[occurrence - 1]
