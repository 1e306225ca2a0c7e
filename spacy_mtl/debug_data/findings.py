"""What a check finds: its level, the task and corpus it concerns, a message, the documents."""

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass
class DocRef:
    """A document a finding names: its corpus, source, position in the source and text."""

    corpus: str
    source: str
    index: int
    text: str
    detail: str = ""


@dataclass
class Finding:
    """One result of a check.

    check (str): The check's name ("unseen_dev_labels", "conflicts", ...).
    level (str): ERROR (exit status 1), WARNING or INFO.
    message (str): What was found and what to do, in one paragraph.
    task (Optional[str]): "cats", "ents" or None.
    docs (List[DocRef]): The documents concerned (printed with --verbose).
    data (Dict[str, Any]): The numbers behind the message, for the JSON output.
    """

    check: str
    level: str
    message: str
    task: Optional[str] = None
    docs: List[DocRef] = field(default_factory=list)
    data: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)
