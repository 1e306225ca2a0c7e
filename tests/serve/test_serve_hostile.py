"""The service under hostile requests (issue 22): a 4xx that names the field, never a 500."""

import json

import pytest
import spacy
from conftest import live_server, nan_weights
from spacy.language import Language

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx: pip install -e '.[test]'")
pytest.importorskip("fastapi", reason="the serve tests need FastAPI: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="the serve tests need uvicorn: pip install -e '.[serve]'")

from spacy_mtl.serve.app import create_app  # noqa: E402

MAX_BATCH = 5


@pytest.fixture(scope="module")
def nlp(served_pipeline) -> Language:
    return spacy.load(served_pipeline)


@pytest.fixture(scope="module")
def server(nlp):
    with live_server(create_app(nlp, max_chars=200, max_batch=MAX_BATCH)) as url:
        yield url


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def post_raw(client, path: str, body: bytes):
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def only_error(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    (error,) = response.json()["detail"]
    return error


@pytest.mark.parametrize(
    "path,body,loc,position",
    [
        ("/parse", rb'{"text": "x \ud800 y"}', ["body", "text"], 2),
        ("/parse", rb'{"texts": ["ok", "ab\udc00"]}', ["body", "texts", 1], 2),
        ("/render", rb'{"text": "\udfff"}', ["body", "text"], 0),
        # A surrogate pair is one character: fine.
        ("/parse", rb'{"text": "x \ud83d\ude00 y"}', None, None),
    ],
)
def test_a_lone_surrogate_gets_422_naming_the_field_and_position(client, path, body, loc, position):
    response = post_raw(client, path, body)
    if loc is None:
        assert response.status_code == 200
        assert response.json()["text"] == "x \U0001f600 y"
        return
    error = only_error(response)
    assert error["type"] == "lone_surrogate"
    assert error["loc"] == loc
    assert f"character {position}" in error["msg"] and "U+D" in error["msg"]
    assert "UTF-8" in error["msg"]
    # The answer echoes the input as valid JSON text, the surrogate escaped.
    assert "\\ud" in error["input"] or "\\ud" in json.dumps(error["input"])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("template", ['{"text": %s}', '{"texts": ["ok", %s]}'])
def test_a_non_finite_number_gets_a_json_422(client, value, template):
    response = post_raw(client, "/parse", (template % value).encode("ascii"))
    error = only_error(response)
    assert error["type"] == "string_type"
    assert error["loc"][:2] == ["body", "text" if "texts" not in template else "texts"]
    # Valid JSON (no bare NaN): the number comes back as a string.
    json.loads(response.text, parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert error["input"] in ("NaN", "Infinity", "-Infinity")


def test_junk_in_a_field_name_gets_a_json_422(client):
    response = post_raw(client, "/parse", rb'{"text": "ok", "\ud800x": NaN}')
    assert response.status_code == 422
    json.loads(response.text, parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert "\\ud800x" in response.text


@pytest.mark.parametrize("text", ["", " ", "   \t\n ", "\u3000", "\u00a0\u2003"])
def test_an_empty_or_whitespace_text_gets_422_as_annotate_calls_it_an_error(client, text):
    error = only_error(client.post("/parse", json={"text": text}))
    assert error["type"] == "empty_text"
    assert error["loc"] == ["body", "text"]
    assert error["msg"].startswith("empty text")
    error = only_error(client.post("/parse", json={"texts": ["fly to oslo", text]}))
    assert error["loc"] == ["body", "texts", 1]
    error = only_error(client.post("/render", json={"text": text}))
    assert error["loc"] == ["body", "text"]


def test_the_number_of_texts_is_capped_by_max_batch(client):
    response = client.post("/parse", json={"texts": ["fly to oslo"] * (MAX_BATCH + 1)})
    error = only_error(response)
    assert error["type"] == "too_long"
    assert error["loc"] == ["body", "texts"]
    assert f"{MAX_BATCH + 1} texts" in error["msg"] and f"limit of {MAX_BATCH}" in error["msg"]
    assert "--max-batch" in error["msg"]
    # The limit itself is fine.
    response = client.post("/parse", json={"texts": ["fly to oslo"] * MAX_BATCH})
    assert response.status_code == 200 and len(response.json()) == MAX_BATCH


def test_meta_reports_max_batch(client):
    assert client.get("/meta").json()["max_batch"] == MAX_BATCH


def test_max_batch_must_be_positive(nlp):
    with pytest.raises(ValueError, match="max_batch"):
        create_app(nlp, max_batch=0)


@pytest.mark.parametrize("path", ["/", "/health", "/meta"])
def test_head_answers_like_get_without_a_body(client, path):
    head = client.head(path)
    get = client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.content == b""


def test_the_favicon_is_served_and_the_page_names_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<svg")
    assert 'rel="icon"' in client.get("/").text


def test_a_leading_bom_in_the_body_is_ignored(client):
    # Documented: a UTF-8 BOM before the JSON is skipped, as JSON readers may (RFC 8259, 8.1).
    response = post_raw(client, "/parse", b'\xef\xbb\xbf{"text": "fly to oslo"}')
    assert response.status_code == 200
    assert response.json()["text"] == "fly to oslo"


def test_a_pipeline_that_predicts_nan_gets_a_422_naming_each_text(served_pipeline):
    """Before: 200 with intent the first label, null confidences and out_of_scope false."""
    nlp = nan_weights(spacy.load(served_pipeline))
    with live_server(create_app(nlp)) as url, httpx.Client(base_url=url, timeout=60) as client:
        error = only_error(client.post("/parse", json={"text": "fly to oslo"}))
        assert error["type"] == "non_finite_prediction" and error["loc"] == ["body", "text"]
        assert "not a number" in error["msg"] and "cats['flight']" in error["msg"]
        assert "cats['flight']" in error["ctx"]["scores"]
        many = client.post("/parse", json={"texts": ["fly to oslo", "play jazz"]})
        assert many.status_code == 422
        locs = [e["loc"] for e in many.json()["detail"]]
        assert locs == [["body", "texts", 0], ["body", "texts", 1]]
        json.loads(many.text, parse_constant=lambda name: pytest.fail(f"bare {name}"))
        error = only_error(client.post("/render", json={"text": "play jazz"}))
        assert error["type"] == "non_finite_prediction" and error["loc"] == ["body", "text"]
        # The service itself is fine: it says so, and answers what needs no prediction.
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/meta").status_code == 200
