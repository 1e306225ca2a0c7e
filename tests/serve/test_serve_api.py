"""The service (spacy_mtl.serve) over real HTTP: answers, refusals, concurrency, the CLI."""

import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import spacy
from conftest import INTENTS, SENTENCES, live_server
from spacy.language import Language

import spacy_mtl
from spacy_mtl import records
from spacy_mtl.records import RECORD_FIELDS, doc_to_record

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx: pip install -e '.[test]'")
pytest.importorskip("fastapi", reason="the serve tests need FastAPI: pip install -e '.[serve]'")
pytest.importorskip("uvicorn", reason="the serve tests need uvicorn: pip install -e '.[serve]'")

from spacy_mtl.serve.app import create_app  # noqa: E402

MAX_CHARS = 120
ENTITY_LABELS = sorted({label for _, _, ents in SENTENCES for _, label in ents})
TEXTS = [text for text, _, _ in SENTENCES[:6]]


@pytest.fixture(scope="module")
def nlp(served_pipeline) -> Language:
    return spacy.load(served_pipeline)


@pytest.fixture(scope="module")
def server(nlp):
    with live_server(create_app(nlp, max_chars=MAX_CHARS)) as url:
        yield url


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def post_raw(client, body: bytes, path: str = "/parse"):
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def test_health_and_meta(client):
    assert client.get("/health").json() == {"status": "ok"}
    meta = client.get("/meta").json()
    assert meta["name"] == "en_mtl_test"
    assert meta["version"] == "0.0.1"
    assert meta["labels"] == {"cats": INTENTS, "ents": ENTITY_LABELS}
    assert meta["component_labels"] == {"mtl_textcat": INTENTS, "mtl_ner": ENTITY_LABELS}
    assert meta["spacy_mtl_version"] == spacy_mtl.__version__
    assert meta["max_chars"] == MAX_CHARS


def test_parse_one_text_is_the_pipelines_record(client, nlp):
    text = "fly from oslo to lima tomorrow"
    response = client.post("/parse", json={"text": text})
    assert response.status_code == 200
    record = response.json()
    expected = doc_to_record(nlp(text))
    assert record.keys() == {
        "text", "intent", "intent_confidence", "out_of_scope", "cats", "entities"
    }  # fmt: skip
    assert record["intent_confidence"] == pytest.approx(max(record["cats"].values()), abs=1e-6)
    assert record["out_of_scope"] is False
    assert record["intent"] == expected["intent"] == "flight"
    assert record["cats"] == pytest.approx(expected["cats"], abs=1e-6)
    assert record["entities"] == expected["entities"]
    # Character offsets into the text.
    assert [text[e["start"] : e["end"]] for e in record["entities"]] == ["oslo", "lima", "tomorrow"]
    assert [e["label"] for e in record["entities"]] == ["FROM", "TO", "DATE"]


def test_the_openapi_record_is_the_declared_record(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert list(schemas["Record"]["properties"]) == list(RECORD_FIELDS)
    assert list(schemas["Entity"]["properties"]) == list(records.Entity.__annotations__)
    intent = schemas["Record"]["properties"]["intent"]
    assert intent["description"].startswith("the highest-scoring category")
    assert list(schemas["Rendered"]["properties"]) == [*RECORD_FIELDS, "html"]


def test_parse_a_batch_keeps_the_order(client):
    singles = [client.post("/parse", json={"text": text}).json() for text in TEXTS]
    batch = client.post("/parse", json={"texts": TEXTS}).json()
    assert [record["text"] for record in batch] == TEXTS
    for one, other in zip(singles, batch):
        assert one["intent"] == other["intent"]
        assert one["entities"] == other["entities"]
        assert one["cats"] == pytest.approx(other["cats"], abs=1e-5)
    assert client.post("/parse", json={"texts": []}).json() == []


def test_render_is_displacys_markup(client):
    body = client.post("/render", json={"text": "fly from oslo to lima tomorrow"}).json()
    assert body["html"].count('<mark class="entity"') == len(body["entities"]) == 3
    for label in ("FROM", "TO", "DATE"):
        assert f">{label}</span>" in body["html"]


def test_page_is_served_without_outside_resources(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'id="text"' in page and "displaCy" in page
    for attribute in ("src=", "href="):
        assert f'{attribute}"http' not in page and f"{attribute}'http" not in page
    assert "@import" not in page


@pytest.mark.parametrize(
    "body,kind",
    [
        (b'{"text": ', "json_invalid"),
        (b"text=hello", "json_invalid"),
        (b"{}", "value_error"),
        (b'{"txt": "hello"}', "extra_forbidden"),
        (b'{"text": "a", "texts": ["b"]}', "value_error"),
        (b'{"text": 5}', "string_type"),
        (b'{"text": null}', "value_error"),
        (b'{"texts": "hello"}', "list_type"),
        (b'{"texts": ["hello", 3]}', "string_type"),
        (b'["hello"]', "model_attributes_type"),
    ],
)
def test_bad_json_gets_fastapis_422(client, body, kind):
    response = post_raw(client, body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert kind in [error["type"] for error in errors]


def test_a_text_over_max_chars_gets_422_naming_the_limit(client):
    response = client.post("/parse", json={"text": "a" * (MAX_CHARS + 1)})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "text"]
    assert f"limit of {MAX_CHARS}" in error["msg"] and "--max-chars" in error["msg"]
    # In a batch, the error points at the text.
    response = client.post("/parse", json={"texts": ["ok", "b" * (MAX_CHARS + 5)]})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "texts", 1]
    assert f"{MAX_CHARS + 5} characters" in error["msg"]
    assert client.post("/render", json={"text": "c" * (MAX_CHARS + 1)}).status_code == 422
    # The limit itself is accepted.
    assert client.post("/parse", json={"text": "a" * MAX_CHARS}).status_code == 200


def test_a_body_over_1_mb_gets_413(server):
    body = json.dumps({"texts": ["fly to oslo"] * 90000}).encode("utf8")
    assert len(body) > 2**20
    with httpx.Client(base_url=server, timeout=60) as client:
        response = post_raw(client, body)
        assert response.status_code == 413
        assert "1048576 bytes" in response.json()["detail"]

    # Chunked, with no Content-Length: the server counts as it reads.
    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    with httpx.Client(base_url=server, timeout=60) as client:
        response = client.post(
            "/parse", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
    # Just under the limit is fine.
    with httpx.Client(base_url=server, timeout=60) as client:
        small = json.dumps({"texts": ["fly to oslo"] * 1000}).encode("utf8")
        assert post_raw(client, small).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b'{"text": "caf\xe9"}', '{"text": "café"}'.encode("utf-16"), b"\xff\xfe\x00"],
)
def test_a_body_not_in_utf8_gets_400(client, body):
    response = post_raw(client, body)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["detail"]
    # The same text in UTF-8 is fine.
    assert client.post("/parse", json={"text": "café"}).status_code == 200


@Language.component("spacy_mtl_test_sleep")
def sleep_on_marker(doc):
    """Hold a worker for 3 s on the text "sleep": a stand-in for a long batch."""
    if doc.text == "sleep":
        time.sleep(3.0)
    return doc


def test_a_slow_request_does_not_stall_the_others(served_pipeline):
    nlp = spacy.load(served_pipeline)
    nlp.add_pipe("spacy_mtl_test_sleep", first=True)
    with live_server(create_app(nlp, workers=2)) as url:
        slow = {}

        def send_slow():
            with httpx.Client(base_url=url, timeout=60) as client:
                response = client.post("/parse", json={"texts": ["sleep", "fly to oslo"]})
                slow["status"] = response.status_code
                slow["done"] = time.monotonic()

        thread = threading.Thread(target=send_slow)
        start = time.monotonic()
        thread.start()
        time.sleep(0.3)
        fast_done = []
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/health").status_code == 200
            for text in TEXTS:
                assert client.post("/parse", json={"text": text}).status_code == 200
                fast_done.append(time.monotonic())
        thread.join()
    assert slow["status"] == 200
    assert slow["done"] - start >= 3.0
    # Every quick request came back while the slow one still held its worker.
    assert max(fast_done) < slow["done"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_command_answers_and_refuses(served_pipeline, tmp_path):
    examples = tmp_path / "examples.txt"
    examples.write_text("play bach\n\nfly to oslo\n", encoding="utf8")
    port = free_port()
    command = [sys.executable, "-m", "spacy_mtl", "serve", str(served_pipeline)]
    command += ["--port", str(port), "--max-chars", "50", "--examples", str(examples)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # start-up imports torch: slow on a busy machine
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer /health within 180 s"
            time.sleep(0.2)
        # A held-out sentence the served pipeline gets right at every seed tried (0, 1, 2);
        # "play bach" alone was read as weather at seed 0.
        record = httpx.post(f"{url}/parse", json={"text": "play something by adele"}).json()
        assert record["intent"] == "music"
        meta = httpx.get(f"{url}/meta").json()
        assert meta["max_chars"] == 50 and meta["examples"] == ["play bach", "fly to oslo"]
        response = httpx.post(f"{url}/parse", json={"text": "x" * 51})
        assert response.status_code == 422 and "limit of 50" in response.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_command_names_a_pipeline_it_cannot_load(tmp_path):
    # --port 0: the socket is bound before the pipeline loads, and 8000 may be taken.
    command = [sys.executable, "-m", "spacy_mtl", "serve", str(tmp_path / "missing"), "--port", "0"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert f"Cannot load the pipeline {str(tmp_path / 'missing')!r}" in proc.stderr
