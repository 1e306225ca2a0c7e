"""The service under random JSON bodies and Unicode edge cases, to every route: never a 500.

Every answer is a 2xx, 4xx with a strict JSON body (no bare NaN, valid UTF-8), or the
page; a 200 from /parse or /render is the record of the text sent. The budget is small
in CI; SPACY_MTL_FUZZ=long runs SPACY_MTL_FUZZ_EXAMPLES examples per test (2000 by default).
"""

import json
import os
from collections import Counter

import pytest
import spacy
from conftest import live_server, nan_weights
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx: pip install -e '.[test]'")
pytest.importorskip("fastapi", reason="the serve tests need FastAPI: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="the serve tests need uvicorn: pip install -e '.[serve]'")

from spacy_mtl.serve.app import create_app  # noqa: E402

MAX_CHARS = 300
MAX_BATCH = 8
LONG = os.environ.get("SPACY_MTL_FUZZ") == "long"
FUZZ = settings(
    max_examples=int(os.environ.get("SPACY_MTL_FUZZ_EXAMPLES", "2000")) if LONG else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TALLY: Counter = Counter()

# Characters a hostile client sends: any code point, lone surrogates, controls, blanks.
chars = st.one_of(
    st.characters(),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.sampled_from(["\x00", "\ufeff", "\u200b", "\u3000", "\r", "\t", "\u2028", "\U0001f600"]),
)
texts = st.one_of(
    st.text(chars, max_size=40),
    st.text(chars, min_size=MAX_CHARS - 5, max_size=MAX_CHARS + 5),
    st.sampled_from(["fly to oslo", "play jazz", "", "   ", "a\ud800b", "\udfff"]),
)
# Texts the pipeline runs on: any character but a lone surrogate, controls and blanks too.
valid_texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=80)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(chars, max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.fixed_dictionaries({"text": valid_texts}),
    st.fixed_dictionaries({"texts": st.lists(valid_texts, max_size=MAX_BATCH)}),
    st.fixed_dictionaries({"text": st.one_of(texts, junk)}),
    st.fixed_dictionaries(
        {"texts": st.lists(st.one_of(texts, texts, junk), max_size=MAX_BATCH + 2)}
    ),
    st.fixed_dictionaries({"text": texts, "texts": st.lists(texts, max_size=2)}),
    st.dictionaries(st.sampled_from(["text", "texts", "txt", "\ud800"]) | st.text(chars), junk),
    junk,
)


@st.composite
def raw_bodies(draw) -> bytes:
    """A JSON body, escaped as ASCII or written raw (lone surrogates as bytes), or cut short."""
    body = draw(bodies)
    kind = draw(st.sampled_from(["ascii", "raw", "cut", "bytes", "nested"]))
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "nested":
        depth = draw(st.integers(1, 5000))
        return b'{"text": ' + b"[" * depth + b"]" * depth + b"}"
    data = json.dumps(body, ensure_ascii=kind != "raw", allow_nan=True)
    encoded = data.encode("utf8", "surrogatepass")
    if kind == "cut":
        return encoded[: draw(st.integers(0, max(0, len(encoded) - 1)))]
    return encoded


@pytest.fixture(scope="module")
def client(served_pipeline):
    nlp = spacy.load(served_pipeline)
    with live_server(create_app(nlp, max_chars=MAX_CHARS, max_batch=MAX_BATCH)) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    if LONG:
        print("\nserve fuzz tally:", dict(sorted(TALLY.items())))


def check_answer(response, path: str, body) -> None:
    TALLY[f"{path} {response.status_code}"] += 1
    assert response.status_code < 500, (path, body, response.text)
    if response.headers.get("content-type", "").startswith("application/json"):
        answer = json.loads(
            response.content.decode("utf8"),
            parse_constant=lambda name: pytest.fail(f"bare {name} in {response.text}"),
        )
        if response.status_code == 200 and path in ("/parse", "/render"):
            records = answer if isinstance(answer, list) else [answer]
            sent = body["texts"] if "texts" in body else [body["text"]]
            assert [record["text"] for record in records] == sent
            for record in records:
                for ent in record["entities"]:
                    assert record["text"][ent["start"] : ent["end"]] == ent["text"]


@FUZZ
@given(path=st.sampled_from(["/parse", "/render"]), body=bodies)
def test_random_json_bodies_never_get_a_500(client, path, body):
    data = json.dumps(body, allow_nan=True).encode("ascii")
    response = client.post(path, content=data, headers={"Content-Type": "application/json"})
    # What the server reads: two escaped surrogates that make a pair are one character.
    check_answer(response, path, json.loads(data))


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
    path=st.sampled_from(["/parse", "/render", "/", "/health", "/meta", "/favicon.ico", "/x"]),
    content_type=st.sampled_from(["application/json", "text/plain", None, "application/x+json"]),
    data=raw_bodies(),
)
def test_raw_bodies_to_every_route_never_get_a_500(client, method, path, content_type, data):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.request(method, path, content=data, headers=headers)
    TALLY[f"{method} {path} {response.status_code}"] += 1
    assert response.status_code < 500, (method, path, data, response.text)
    if method != "HEAD" and response.headers.get("content-type", "").startswith("application/json"):
        json.loads(response.content.decode("utf8"), parse_constant=lambda n: pytest.fail(n))


@pytest.fixture(scope="module")
def nan_client(served_pipeline):
    """The service of a pipeline whose text classifier's weights are NaN."""
    nlp = nan_weights(spacy.load(served_pipeline))
    with live_server(create_app(nlp, max_chars=MAX_CHARS, max_batch=MAX_BATCH)) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


@FUZZ
@given(path=st.sampled_from(["/parse", "/render"]), body=bodies)
def test_a_pipeline_that_predicts_nan_never_answers_a_record(nan_client, path, body):
    """Every text the pipeline runs on gets a 422 naming it; nothing else changes: never a
    200 with a record of NaN scores, never a 500, never a bare NaN."""
    data = json.dumps(body, allow_nan=True).encode("ascii")
    response = nan_client.post(path, content=data, headers={"Content-Type": "application/json"})
    check_answer(response, path, json.loads(data))
    # The one 200: a batch of no texts, which has nothing to predict.
    assert response.status_code != 200 or body == {"texts": []}, response.text
    if response.status_code == 422:
        kinds = {error["type"] for error in response.json()["detail"]}
        # Refused before the pipeline ran (a bad body), or after, for the NaN: never both.
        assert "non_finite_prediction" not in kinds or kinds == {"non_finite_prediction"}
