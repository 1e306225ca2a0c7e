"""The serve command's socket and connections: clear errors for a bad --port or --host,
and connections that stall in their request are closed."""

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import spacy
from spacy.language import Language

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx: pip install -e '.[test]'")
pytest.importorskip("fastapi", reason="the serve tests need FastAPI: pip install -e '.[serve]'")
uvicorn = pytest.importorskip(
    "uvicorn", reason="the serve tests need uvicorn: pip install -e '.[serve]'"
)

from spacy_mtl.__main__ import main  # noqa: E402
from spacy_mtl.serve.app import create_app  # noqa: E402
from spacy_mtl.serve.server import bind_socket, make_server  # noqa: E402

TIMEOUT = 1.0


@Language.component("spacy_mtl_test_slow")
def slow_on_marker(doc):
    """Hold a worker for 2 s on the text "slow": longer than the request timeout."""
    if doc.text == "slow":
        time.sleep(2.0)
    return doc


@contextlib.contextmanager
def served(app, **settings):
    sock = bind_socket("127.0.0.1", 0)
    server = make_server(app, log_level="warning", **settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def port(served_pipeline):
    nlp = spacy.load(served_pipeline)
    nlp.add_pipe("spacy_mtl_test_slow", first=True)
    with served(create_app(nlp), request_timeout=TIMEOUT, keep_alive=TIMEOUT) as port:
        yield port


def seconds_until_closed(port: int, sent: bytes, drip: bytes = b"") -> tuple:
    """Send `sent`, then `drip` a byte each 0.2 s: seconds until the server closed, its answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        start = time.monotonic()
        sock.sendall(sent)
        sock.settimeout(0.2)
        answer = b""
        for byte in [drip[i : i + 1] for i in range(len(drip))] + [b""] * 50:
            try:
                if byte:
                    sock.sendall(byte)
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            answer += chunk
        else:
            pytest.fail(f"the connection was still open after 10 s; got {answer!r}")
        return time.monotonic() - start, answer


@pytest.mark.parametrize(
    "sent,drip",
    [
        (b"", b""),
        (b"POST /parse HTTP/1.1\r\nHost: x\r\nContent-Len", b""),
        (b'POST /parse HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"text": ', b""),
        (b"POST /parse HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 40),
    ],
    ids=["nothing", "partial-headers", "partial-body", "dripped-headers"],
)
def test_a_stalled_request_is_closed_within_the_timeout(port, sent, drip):
    seconds, answer = seconds_until_closed(port, sent, drip)
    # Without the timeout the connection stays open (seconds_until_closed fails at 10 s);
    # the drip lasts 8 s, so closing before it ends shows a byte does not restart the clock.
    # The slack is for a busy machine: this is not a speed test.
    assert seconds < TIMEOUT + 5
    if sent:
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"--request-timeout" in answer


def test_an_idle_connection_is_closed_after_keep_alive(port):
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    seconds, answer = seconds_until_closed(port, request)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert seconds < TIMEOUT + 5


def test_a_slow_answer_is_not_cut_by_the_request_timeout(port):
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        response = client.post("/parse", json={"text": "slow"})
        assert response.status_code == 200
        # The same connection, kept alive, takes the next request.
        assert client.post("/parse", json={"text": "fly to oslo"}).status_code == 200


# " 80" is port 80 to Typer, as to int().
@pytest.mark.parametrize("value", ["70000", "65536", "-1", "abc", "80.5", "", "\u0663"])
def test_a_port_out_of_range_is_a_clear_cli_error(capsys, tmp_path, value):
    assert main(["serve", str(tmp_path / "missing"), "--port", value]) == 2
    err = capsys.readouterr().err
    assert "--port" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "option,value",
    [
        ("--keep-alive", "0"),
        ("--keep-alive", "nan"),
        ("--request-timeout", "-1"),
        ("--request-timeout", "inf"),
        ("--max-batch", "0"),
        ("--max-chars", "x"),
        ("--workers", "0"),
        ("--log-level", "loud"),
    ],
)
def test_other_bad_settings_are_clear_cli_errors(capsys, tmp_path, option, value):
    assert main(["serve", str(tmp_path / "missing"), option, value]) == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err


def test_a_port_in_use_is_named_before_the_pipeline_loads(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        status = main(["serve", str(tmp_path / "missing"), "--port", str(busy)])
    assert status == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{busy}" in err
    assert "in use" in err and "--port" in err
    assert "Cannot load the pipeline" not in err


@pytest.mark.parametrize("host", ["203.0.113.7", "::ffff:203.0.113.7", "256.1.1.1"])
def test_a_host_that_cannot_be_bound_is_a_clear_error(capsys, tmp_path, host):
    status = main(["serve", str(tmp_path / "missing"), "--host", host, "--port", "0"])
    assert status == 1
    err = capsys.readouterr().err
    assert "cannot listen on" in err and host in err and "--host" in err
    assert "Traceback" not in err


def test_port_0_serves_on_a_free_port_and_says_which(served_pipeline):
    command = [sys.executable, "-m", "spacy_mtl", "serve", str(served_pipeline), "--port", "0"]
    command += ["--log-level", "warning"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            found = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
            if found:
                break
        else:
            pytest.fail("serve did not say where it listens")
        port = int(found.group(1))
        assert port != 0
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=30).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
