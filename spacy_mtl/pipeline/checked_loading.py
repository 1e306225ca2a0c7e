"""Loading a component from disk or bytes, with errors that name the component and the file.

thinc's and msgpack's own errors ("Unpack failed: incomplete input", a TypeError
deep in a layer) say neither which component nor which file is broken. After
loading, a head also checks that its labels fit its weights: a hand-edited
`cfg` with another label list would otherwise load silently and shift every
label by one. A head also compares its `cfg` and its config with what its
weights record they were trained for (spacy_mtl/pipeline/trained_for.py).
"""

import contextlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Union

import srsly


class ComponentLoadError(ValueError):
    """A component's files cannot be loaded, or do not fit each other."""


class CheckedLoading:
    """Mixin for a TrainablePipe: wraps from_disk and from_bytes, then checks the labels."""

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()):
        path = Path(path)
        cfg_path = path / "cfg"
        if "cfg" not in exclude and cfg_path.exists():
            try:
                srsly.read_json(cfg_path)
            except ValueError as err:
                raise ComponentLoadError(
                    f"Component {self.name!r}: {cfg_path} is not valid JSON ({err}). Restore "
                    "the file from the trained pipeline."
                ) from None
        if "model" not in exclude and not (path / "model").exists():
            raise ComponentLoadError(
                f"Component {self.name!r}: {path / 'model'} is missing: the pipeline folder "
                "is incomplete."
            )
        configured = self.start_load(exclude)
        with self._explained_load(f"its weights from {path / 'model'}"):
            super().from_disk(path, exclude=exclude)
        self.check_labels_fit_model(str(path))
        self.check_trained_for(str(path), configured)
        return self

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()):
        configured = self.start_load(exclude)
        with self._explained_load("from bytes"):
            super().from_bytes(bytes_data, exclude=exclude)
        self.check_labels_fit_model("bytes")
        self.check_trained_for("bytes", configured)
        return self

    def start_load(self, exclude: Iterable[str]) -> Dict[str, Any]:
        """Prepare to load; RETURNS the settings the config gave, for `check_trained_for`."""
        return {}

    def check_trained_for(self, where: str, configured: Dict[str, Any]) -> None:
        """Raise ComponentLoadError if cfg or config differ from the weights' record; none here."""

    @contextlib.contextmanager
    def _explained_load(self, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as err:
            raise ComponentLoadError(
                f"Component {self.name!r} could not load {what}: {type(err).__name__}: {err}. "
                "The data is truncated or corrupted, or was written by a different model; "
                "restore it or retrain."
            ) from err

    def check_labels_fit_model(self, where: str) -> None:
        """Raise ComponentLoadError if the labels do not fit the weights; nothing to check here."""
