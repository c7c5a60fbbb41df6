"""`pipeline serve`'s rules, with real HTTP requests on 127.0.0.1: only the site's own files,
GET/HEAD (+ POST to the one endpoint), bounded and checked bodies, results recorded through
the run's lock and publish rules, and the server still answering after every hostile request."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time

import pytest

from pipeline.core.errors import PipelineError
from pipeline.rundir.runs import RunDir
from pipeline.web import devices, tls
from pipeline.web import serve as stage
from pipeline.web.server import API, App, site_file

SHA = "a" * 64


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    (folder / "models").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>page</title>")
    (folder / "models" / "model_int8.tflite").write_bytes(b"TFL3")
    (folder / "site.json").write_text(json.dumps({"run": "run", "export_id": "x", "variants": [
        {"key": "int8", "file": "models/model_int8.tflite", "sha256": SHA}]}))
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")  # a symlink out of the site
    return folder


@pytest.fixture
def server(site, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    srv = stage.bind("127.0.0.1", 0, App(site, run))
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)  # path sent as it is
        body = body.encode() if isinstance(body, str) else body
        for key, value in {**({"Content-Length": str(len(body))} if body is not None else {}),
                           **(headers or {})}.items():
            conn.putheader(key, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def good_result(**change):
    result = {"schema": 1, "runtime": "@mediapipe/tasks-vision 0.10.21",
              "device": {"user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7)",
                         "hardware_concurrency": 8, "webgpu": False, "wasm_simd": True,
                         "wasm_threads": False},
              "variants": {"int8": {"sha256": SHA, "runs": 50, "warmup": 10, "p50_ms": 3.5,
                                    "p90_ms": 4.25}},
              "frame_to_answer_ms": 12.5}
    result.update(change)
    return result


def post(srv, data, kind="application/json"):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return request(srv, "POST", API, body, {"Content-Type": kind})


def still_serving(srv):
    assert request(srv, "GET", "/")[0] == 200


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/models/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/models/%2e%2e/%2e%2e/secret.txt", "//etc/passwd", "/%2Fetc%2Fpasswd", "/link.txt",
    "/..%5csecret.txt", "/index.html%00.png", "/models/", "/models", "/nope.html",
    "http://127.0.0.1/../secret.txt", "/%ff%fe"])
def test_only_the_sites_own_files(server, path):
    status, body = request(server, "GET", path)
    assert status == 404, (path, body)
    assert b"secret" not in body and b"root:" not in body
    still_serving(server)


def test_serves_the_page_and_heads(server):
    status, body = request(server, "GET", "/")
    assert status == 200 and b"<title>page</title>" in body
    assert request(server, "HEAD", "/models/model_int8.tflite") == (200, b"")
    assert request(server, "GET", "/index.html?x=../../secret.txt")[0] == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "FOO"])
def test_other_methods_are_405(server, method):
    assert request(server, method, "/")[0] == 405
    assert request(server, method, API)[0] == 405
    still_serving(server)


def test_post_elsewhere_is_refused(server):
    assert post(server, good_result())[0] == 201  # the endpoint works...
    assert request(server, "POST", "/index.html", "{}", {"Content-Type": "application/json"})[0] == 405
    assert request(server, "POST", "/upload", "{}", {"Content-Type": "application/json"})[0] == 404


@pytest.mark.parametrize("body, kind, status", [
    ("x" * (devices.MAX_BODY + 1), "application/json", 413),
    ("{not json", "application/json", 400),
    ('{"schema": 1, "variants": {"int8": {"p50_ms": NaN}}}', "application/json", 400),
    (json.dumps(good_result()), "text/plain", 415),
    (json.dumps(good_result(schema=2)), "application/json", 400),
    (json.dumps(good_result(extra=1)), "application/json", 400),
    (json.dumps(good_result(variants={"int8": {"sha256": "b" * 64, "runs": 1, "p50_ms": 1,
                                               "p90_ms": 1}})), "application/json", 400),
    (json.dumps(good_result(variants={"../x": {"sha256": SHA}})), "application/json", 400),
    (json.dumps(good_result(variants={"int8": {"sha256": SHA, "runs": 1, "p50_ms": -1,
                                               "p90_ms": 1}})), "application/json", 400),
    (json.dumps(good_result(device={"user_agent": "x" * 513})), "application/json", 400),
    (json.dumps(good_result(device={"hardware_concurrency": 2.5})), "application/json", 400),
    (json.dumps(good_result(note="a\nb")), "application/json", 400),
    (json.dumps([1, 2]), "application/json", 400),
    (b"\xff\xfe", "application/json", 400)])
def test_bad_bodies_get_4xx_and_nothing_is_recorded(server, tmp_path, body, kind, status):
    got, answer = post(server, body, kind)
    assert got == status, answer
    assert "error" in json.loads(answer)
    assert RunDir(tmp_path / "run").entry("devices") is None
    still_serving(server)


def test_a_body_without_length_is_refused(server):
    assert request(server, "POST", API, None, {"Content-Type": "application/json"})[0] == 411
    chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    assert request(server, "POST", API, None, chunked)[0] == 411
    still_serving(server)


def test_a_result_is_published_in_the_run(server, tmp_path):
    status, answer = post(server, good_result())
    assert status == 201, answer
    saved = json.loads(answer)["saved"]
    run = RunDir(tmp_path / "run")
    name = saved.split("/", 1)[1]
    recorded = json.loads(run.file("devices", name).read_text())  # sha256 as the manifest says
    assert recorded["variants"]["int8"]["p50_ms"] == 3.5 and recorded["site"]["run"] == "run"
    assert (tmp_path / "run" / saved).is_file()  # RUN/devices/ -> .devices.v<N>/
    assert post(server, good_result())[0] == 201
    assert len(RunDir(tmp_path / "run").entry("devices")["outputs"]) == 2


def test_a_full_run_refuses_new_results_and_keeps_the_oldest(server, tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "MAX_RESULTS", 2)
    assert [post(server, good_result(note=str(i)))[0] for i in range(3)] == [201, 201, 429]
    run = RunDir(tmp_path / "run")
    notes = sorted(json.loads(run.file("devices", k.split("/")[1]).read_text())["note"]
                   for k in run.entry("devices")["outputs"])
    assert notes == ["0", "1"]
    still_serving(server)


def test_a_run_being_written_is_not_touched(server, tmp_path):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pipeline.rundir.lock import run_lock\n"
        f"with run_lock({str(run)!r}, 'pipeline train'):\n"
        "    print('held', flush=True); time.sleep(30)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in run.iterdir())
        status, answer = post(server, good_result())
        assert status == 503 and b"pipeline train" in answer
        assert sorted(p.name for p in run.iterdir()) == before
    finally:
        holder.kill()
        holder.wait()
    assert post(server, good_result())[0] == 201


def test_binds_loopback_by_default_and_says_who_can_reach_it(site, tmp_path, capsys):
    srv = stage.bind("127.0.0.1", 0, App(site, tmp_path))
    try:
        assert srv.server_address[0] == "127.0.0.1"
        with pytest.raises(PipelineError, match="in use"):
            stage.bind("127.0.0.1", srv.server_address[1], App(site, tmp_path))
    finally:
        srv.server_close()
    stage.announce("127.0.0.1", 8000, False)
    assert "note:" not in capsys.readouterr().out
    stage.announce("0.0.0.0", 8000, False)
    assert "any device that can reach this machine" in capsys.readouterr().out


def test_the_cli_default_host_is_loopback():
    import inspect

    from pipeline.cli import app  # noqa: F401 (the commands are registered on import)
    assert inspect.signature(stage.serve).parameters["host"].default == "127.0.0.1"
    from typer.main import get_command
    serve = get_command(app).commands["serve"]
    assert next(p for p in serve.params if p.name == "host").default == "127.0.0.1"


def test_tls_certificate_made_once_with_a_private_key(site, tmp_path):
    folder = tls.folder_for(site)
    cert, key = tls.ensure(folder, "127.0.0.1")
    assert oct(key.stat().st_mode & 0o777) == "0o600" and not folder.is_relative_to(site)
    first = tls.fingerprint(cert)
    assert len(first.split(":")) == 32
    assert tls.ensure(folder, "127.0.0.1") == (cert, key) and tls.fingerprint(cert) == first
    srv = stage.bind("127.0.0.1", 0, App(site, tmp_path))
    srv.socket = tls.context(cert, key).wrap_socket(srv.socket, server_side=True,
                                                    do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        client = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", srv.server_address[1], context=client,
                                           timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_certificate_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(PipelineError, match="cannot write the certificate"):
        tls.ensure(tmp_path / "file" / "site.tls", "127.0.0.1")


def test_serve_command_starts_and_stops_on_ctrl_c(site, tmp_path):
    """The real command on a free port: serves, then one line on SIGINT and exit 0."""
    run = tmp_path / "run"
    run.mkdir()
    from pipeline.web import site as sitelib

    info = json.loads((site / "site.json").read_text())
    (site / "site.json").write_text(json.dumps({**info, "export_id": None}))  # "current":
    for name in sitelib.PAGE_FILES:  # the run has no export, and the page is this version's
        shutil.copyfile(sitelib.STATIC / name, site / name)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--run", str(run),
                             "--site", str(site), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), line
        port = int(line.split(":")[2].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0 and out.strip() == "pipeline serve: stopped"


def test_a_slow_client_does_not_block_others(server):
    import socket

    slow = socket.create_connection(("127.0.0.1", server.server_address[1]))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its request
    start = time.time()
    still_serving(server)
    assert time.time() - start < 5
    slow.close()
