"""The bodies of the service's requests and answers, as pydantic models.

FastAPI validates requests against these models and draws the OpenAPI schema
from them. The answers' models are built from the one declaration of a record
(spacy_mtl.records), field by field, so the service cannot drift from it.
"""

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple, Type, get_args, get_origin, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated, is_typeddict

from .. import records
from ..texts import EMPTY_TEXT, is_blank, lone_surrogate


def check_text(text: str) -> str:
    """Refuse a text the pipeline cannot or should not process, as annotate does (spacy_mtl.texts).

    text (str): A request's text.
    RETURNS (str): The text, unchanged.
    """
    if is_blank(text):
        raise PydanticCustomError(
            "empty_text",
            EMPTY_TEXT + ": the text is empty or only whitespace, so there is nothing to "
            "predict from. Send a text with at least one word.",
        )
    found = lone_surrogate(text)
    if found is not None:
        position, code_point = found
        raise PydanticCustomError(
            "lone_surrogate",
            "The text has a lone surrogate {code_point} at character {position}, which "
            "cannot be encoded as UTF-8. Send the character's surrogate pair or remove it.",
            {"code_point": code_point, "position": position},
        )
    return text


# A text of a request: a string (never a number or null), not blank, encodable as UTF-8.
Text = Annotated[StrictStr, AfterValidator(check_text)]


class ParseRequest(BaseModel):
    """The body of POST /parse: one text, or a list of texts."""

    model_config = ConfigDict(extra="forbid")
    text: Optional[Text] = Field(None, description="one text: the answer is one record")
    texts: Optional[List[Text]] = Field(
        None, description="several texts: the answer is a list of records, in order"
    )

    @model_validator(mode="after")
    def _one_of(self) -> "ParseRequest":
        if (self.text is None) == (self.texts is None):
            raise ValueError(
                "give either 'text' (a string) or 'texts' (a list of strings), not both or neither"
            )
        return self


class RenderRequest(BaseModel):
    """The body of POST /render: one text."""

    model_config = ConfigDict(extra="forbid")
    text: Text


@lru_cache(maxsize=None)
def model_of(shape: Type[Any], *, doc: Optional[str] = None) -> Type[BaseModel]:
    """A pydantic model with the fields of a TypedDict, in order, nested ones too.

    An ``Annotated[type, "text"]`` field gets "text" as its description. Cached,
    so that a nested shape is one model (one name in the OpenAPI schema).

    shape (Type[Any]): A TypedDict of spacy_mtl.records.
    doc (Optional[str]): The model's description; None: the TypedDict's docstring.
    RETURNS (Type[BaseModel]): The model, named as the TypedDict.
    """
    fields: Dict[str, Tuple[Any, Any]] = {}
    for name, hint in get_type_hints(shape, include_extras=True).items():
        notes = [note for note in getattr(hint, "__metadata__", ()) if isinstance(note, str)]
        hint = get_args(hint)[0] if notes else hint
        field = Field(description=notes[0]) if notes else ...
        fields[name] = (_pydantic_type(hint), field)
    return create_model(shape.__name__, __doc__=doc or shape.__doc__, **fields)


def _pydantic_type(hint: Any) -> Any:
    if is_typeddict(hint):
        return model_of(hint)
    if get_origin(hint) is list:
        return List[_pydantic_type(get_args(hint)[0])]
    return hint


Entity = model_of(records.Entity)
Record = model_of(
    records.Record, doc="What POST /parse answers for one text (spacy_mtl.records.doc_to_record)."
)
Rendered = create_model(
    "Rendered",
    __base__=Record,
    __doc__="What POST /render answers: the record and displaCy's markup.",
    html=(str, Field(description="displaCy's entity markup of the text")),
)
