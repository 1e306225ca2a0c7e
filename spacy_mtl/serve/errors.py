"""The 422 answer, made safe to send whatever the request held.

FastAPI's own 422 echoes each invalid value back ("input"), and the JSON
encoder refuses some of what a JSON body can carry: ``NaN`` and ``Infinity``
(Python's json reads them, strict JSON cannot write them) and a lone surrogate
(``"\\ud800"``: it cannot be encoded as UTF-8). Either made the answer itself fail
with a 500. `validation_error_answer` writes the same 422 with such values spelt
out: a non-finite number as the string "NaN", "Infinity" or "-Infinity", a lone
surrogate as its escape, and a value nested deeper than MAX_DEPTH as "...".
"""

import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# Containers echoed back in full down to this depth: deeper ones are elided.
MAX_DEPTH = 8


async def validation_error_answer(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 answer, with every value made encodable as strict JSON.

    request (Request): The request (unused: FastAPI's handler signature).
    exc (RequestValidationError): The errors.
    RETURNS (JSONResponse): 422 {"detail": [errors]}.
    """
    return JSONResponse(status_code=422, content={"detail": json_safe(exc.errors())})


def json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of a value that strict JSON in UTF-8 can hold.

    value (Any): What a validation error carries (its loc, input, ctx).
    depth (int): How deep `value` sits in the whole.
    RETURNS (Any): The value with non-finite floats, lone surrogates and deep nesting spelt out.
    """
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)) and value:
        return "..."
    if isinstance(value, dict):
        return {_safe_text(str(key)): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item, depth + 1) for item in value]
    return json_safe(jsonable_encoder(value, custom_encoder={Exception: str}), depth)


def _safe_text(text: str) -> str:
    try:
        text.encode("utf8")
    except UnicodeEncodeError:
        return text.encode("utf8", "backslashreplace").decode("utf8")
    return text
