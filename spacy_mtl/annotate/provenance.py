"""What made an annotate output, and whether a rerun is the same run.

A run records what decides its records, its manifest (io.output_settings): the
pipeline (a folder's path and a hash of its files' names, sizes and times, or
a package's name and version), the settings (--text-field, --id-field,
--max-chars, --part-size, the format) and the input files (path, size and
modification time in nanoseconds, as make and rsync tell a changed file). An
unfinished run keeps it in its parts folder; a finished one-file output keeps
it, with its counts, beside the output in ``OUTPUT.annotate.json``; a finished
directory output in its manifest, marked complete. A rerun compares its own
with the record: the same resumes or, once finished, does nothing; anything
else is refused with what differs, and --overwrite starts again.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import srsly

from .io import AnnotateError, shard_unchanged, shards_from_manifest

RECORD_SUFFIX = ".annotate.json"
# The flags that set what a record holds, as the command line names them.
_FLAGS = {
    "text_field": "--text-field",
    "id_field": "--id-field",
    "max_chars": "--max-chars",
    "part_size": "--part-size",
    "format": "the output format",
    "export": "--format",
    "sort_by": "--sort-by",
}


def record_path(output: Path) -> Path:
    """Where a finished one-file output keeps its record: ``OUTPUT.annotate.json``."""
    return output.with_name(output.name + RECORD_SUFFIX)


def load_record(path: Path) -> Optional[Dict[str, Any]]:
    """A record or manifest read back; None if it is missing or unreadable."""
    try:
        record = srsly.read_json(path)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def differences(
    recorded: Dict[str, Any],
    fresh: Dict[str, Any],
    files: Sequence[str],
    *,
    ignore: Sequence[str] = (),
) -> List[str]:
    """Say what differs between a recorded run and a new one; nothing if they are the same.

    recorded (Dict[str, Any]): The earlier run's manifest.
    fresh (Dict[str, Any]): The new run's manifest, without shards.
    files (Sequence[str]): The new run's input files, resolved, in order.
    ignore (Sequence[str]): Settings that do not change this output's records.
    RETURNS (List[str]): One phrase per difference.
    """
    changed = []
    for key, value in fresh.items():
        old = recorded.get(key)
        if key in ("shards", "complete", *ignore) or old == value:
            continue
        if key == "pipeline":
            changed.append(_pipeline_change(old or {}, value))
        elif key == "version":
            changed.append("the record was made by another version of spacy-mtl")
        else:
            changed.append(f"{_FLAGS.get(key, key)} was {old!r}, now {value!r}")
    shards = shards_from_manifest(recorded) if "shards" in recorded else []
    if [shard.path for shard in shards] != list(files):
        changed.append(f"the input was {_names([s.path for s in shards])}, now {_names(files)}")
    else:
        stale = [shard.path for shard in shards if not shard_unchanged(shard)]
        if stale:
            changed.append(f"the input {_names(stale)} changed since (size or modification time)")
    return changed


def refusal(where: Path, changed: List[str], *, finished: bool, single: bool) -> AnnotateError:
    """The error of a rerun that is not the recorded run, saying what differs and what to do."""
    what = ", ".join(changed)
    if single and finished:
        return AnnotateError(
            f"{str(where)!r} was made by an earlier run with other inputs or settings: {what}. "
            f"Rerun with the same pipeline, input and settings to keep it, pass --overwrite "
            f"to annotate again, or choose another output."
        )
    state = "a finished run" if finished else "an unfinished run"
    advice = "to keep it" if finished else "to resume"
    return AnnotateError(
        f"{str(where)!r} holds {state} made with other inputs or settings: {what}. Rerun with "
        f"the same pipeline, input and settings {advice}, or pass --overwrite to start again."
    )


def same_plan(a: Optional[Dict[str, Any]], b: Optional[Dict[str, Any]]) -> bool:
    """Whether two manifests describe the same run (their counts aside)."""
    if a is None or b is None:
        return False
    return {k: v for k, v in a.items() if k != "complete"} == {
        k: v for k, v in b.items() if k != "complete"
    }


def _pipeline_change(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    before, after = _pipeline_name(old), _pipeline_name(new)
    if before == after:
        return f"the pipeline {after} changed since (its files or its version)"
    return f"the pipeline was {before}, now {after}"


def _pipeline_name(fingerprint: Dict[str, Any]) -> str:
    name = fingerprint.get("path") or fingerprint.get("package") or "?"
    return repr(str(name))


def _names(paths: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(repr(str(p)) for p in list(paths)[:most])
    more = len(paths) - most
    return shown + (f" and {more} more" if more > 0 else "") if paths else "nothing"
