"""The playground's server in process: the page, the WebSocket protocol, limits and bad input.

Every wait here is for a message the server sends; none depends on how fast the machine is.
"""

import json
import time

import pytest

pytest.importorskip("starlette", reason="the playground extra (starlette) is not installed")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from chainrule.playground.config import Limits  # noqa: E402
from chainrule.playground.server import create_app  # noqa: E402


@pytest.fixture
def client():
    with TestClient(create_app(allowed_hosts=["testserver"])) as c:
        yield c


def receive_until(ws, kind, limit=200):
    """Messages up to and including the first of type ``kind``; the last is it."""
    seen = []
    for _ in range(limit):
        msg = ws.receive_json()
        seen.append(msg)
        if msg["type"] == kind:
            return seen
    raise AssertionError(f"no {kind!r} message in {limit}: {[m['type'] for m in seen]}")


def opening(ws):
    msgs = receive_until(ws, "state")
    assert [m["type"] for m in msgs] == ["hello", "config", "points", "frame", "state"]
    return {m["type"]: m for m in msgs}


def test_page_and_assets_are_served_with_a_strict_policy(client):
    r = client.get("/")
    assert r.status_code == 200 and "/static/app.js" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for name in ("app.js", "draw.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    # no asset comes from elsewhere: every src and href of the page is local
    assert 'src="http' not in r.text and 'href="http' not in r.text.replace(
        'href="https://playground.tensorflow.org/"', ""
    )


def test_other_host_names_are_refused():
    with TestClient(create_app()) as c:  # loopback names only: no DNS rebinding
        assert c.get("/", headers={"host": "evil.example"}).status_code == 400
        assert c.get("/", headers={"host": "127.0.0.1:8000"}).status_code == 200
        assert c.get("/", headers={"host": "[::1]:8000"}).status_code == 200
        assert c.get("/", headers={"host": "localhost"}).status_code == 200
        assert (
            c.get("/static/app.js", headers={"host": "127.0.0.1.evil.example"}).status_code == 400
        )
        with pytest.raises(WebSocketDisconnect) as e:
            with c.websocket_connect("/ws", headers={"host": "evil.example"}) as ws:
                ws.receive_json()
        assert e.value.code == 1008


def test_opening_messages(client):
    with client.websocket_connect("/ws") as ws:
        m = opening(ws)
        assert m["hello"]["limits"]["max_units"] == 32
        assert "20 hidden units" in m["hello"]["presets"]
        assert m["config"]["config"]["hidden"] == [16, 16]
        assert len(m["points"]["train"]) == len(m["points"]["train_labels"]) > 0
        assert m["frame"]["step"] == 0 and m["state"]["running"] is False


@pytest.mark.parametrize(
    "raw, words",
    [
        ("{not json", "it is not JSON"),
        ("[1, 2]", "unknown message type None"),
        ('{"type": "fly"}', "unknown message type 'fly'"),
        ('{"type": "config", "config": {"lr": -1}}', "lr must be a number > 0"),
        ('{"type": "config", "config": {"hidden": [1000000]}}', "from 1 to 32 units"),
        ('{"type": "config", "config": "lr=1"}', "settings must be an object"),
        ('{"type": "step", "n": 1000000}', "step takes n, a whole number from 1 to 1000"),
        ('{"type": "preset", "name": "huge"}', "unknown preset 'huge'"),
        ('{"type": "add_point", "x": "a", "y": 0, "label": 0}', "must be a number"),
        ('{"type": "explain", "index": -3}', "index of a training point"),
        ('{"type": "ack", "n": "many"}', "ack takes n"),
    ],
)
def test_bad_messages_get_a_message_and_the_server_goes_on(client, raw, words):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_text(raw)
        err = ws.receive_json()
        assert err["type"] == "error" and words in err["message"], err
        ws.send_json({"type": "step", "n": 2})  # still serving this page
        assert receive_until(ws, "frame")[-1]["step"] == 2


def test_binary_and_oversized_messages(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_bytes(b"\x00\x01")
        assert "JSON text, not binary" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "config", "config": {"seed": 1}, "pad": "x" * 70000}))
        assert "message too long" in ws.receive_json()["message"]


def test_a_refused_setting_is_followed_by_the_settings_in_force(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "config", "config": {"lr": -1}})
        assert ws.receive_json()["type"] == "error"
        after = ws.receive_json()
        assert after["type"] == "config" and after["config"]["lr"] == 0.01


def test_config_changes_answer_with_config_points_and_frame(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "config", "config": {"dataset": "moons", "hidden": [4]}})
        msgs = receive_until(ws, "frame")
        assert [m["type"] for m in msgs] == ["config", "points", "frame"]
        assert msgs[0]["config"]["num_classes"] == 3  # the class count stays with the new set
        assert sorted(set(msgs[1]["train_labels"])) == [0, 1, 2]
        assert len(msgs[2]["layers"]) == 2
        ws.send_json({"type": "config", "config": {"l2": 0.1}})  # no new points for this one
        assert [m["type"] for m in receive_until(ws, "frame")] == ["config", "frame"]


@pytest.mark.parametrize("dataset", ["spiral", "circles", "moons", "xor", "gaussians"])
def test_every_set_takes_2_to_5_classes(client, dataset):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        for k in (2, 5, 4):
            ws.send_json({"type": "config", "config": {"dataset": dataset, "classes": k}})
            msgs = receive_until(ws, "frame")
            assert [m["type"] for m in msgs] == ["config", "points", "frame"]
            config, points, frame = msgs
            assert config["config"]["classes"] == config["config"]["num_classes"] == k
            assert points["classes"] == k
            assert sorted(set(points["train_labels"])) == sorted(set(points["test_labels"]))
            assert sorted(set(points["train_labels"])) == list(range(k))
            assert len(frame["layers"][-1]["b"]) == k  # one output unit per class
        for bad in (1, 6, "five"):
            ws.send_json({"type": "config", "config": {"dataset": dataset, "classes": bad}})
            err = ws.receive_json()
            found = repr(bad) if isinstance(bad, str) else bad
            assert err == {
                "type": "error",
                "message": f"classes must be a whole number from 2 to 5; got {found}",
                "field": "classes",
            }, err
            after = ws.receive_json()  # the settings in force: the last good ones
            assert after["type"] == "config" and after["config"]["num_classes"] == 4
        ws.send_json({"type": "step", "n": 3})  # and the page goes on
        assert receive_until(ws, "frame")[-1]["step"] == 3


def test_presets_and_added_points(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "preset", "name": "6 hidden units"})  # the same points
        msgs = receive_until(ws, "frame")
        assert [m["type"] for m in msgs] == ["config", "frame"]
        assert msgs[0]["config"]["hidden"] == [6] and msgs[0]["config"]["dataset"] == "spiral"
        ws.send_json({"type": "preset", "name": "lambda = 0.01"})  # new points: the moons
        msgs = receive_until(ws, "frame")
        assert msgs[0]["config"]["l2"] == 0.01 and msgs[0]["config"]["dataset"] == "moons"
        n = len(msgs[1]["train"])
        ws.send_json({"type": "add_point", "x": 0.1, "y": 0.2, "label": 1})
        msgs = receive_until(ws, "frame")
        assert len(msgs[1]["train"]) == n + 1 and msgs[0]["config"]["added"] == [[0.1, 0.2, 1]]


def test_start_streams_frames_paced_by_acks_and_pause_stops(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "ack", "n": 1})
        ws.send_json({"type": "start"})
        assert ws.receive_json() == {"type": "state", "running": True, "step": 0}
        steps = []
        while len(steps) < 5:
            msg = ws.receive_json()
            assert msg["type"] == "frame"
            steps.append(msg["step"])
            ws.send_json({"type": "ack", "n": 1})
        assert steps == sorted(steps) and steps[0] >= 1 and steps[-1] > steps[0]
        ws.send_json({"type": "pause"})
        msgs = receive_until(ws, "state")
        assert msgs[-1]["running"] is False


def test_explain(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "explain", "index": 0})
        msg = ws.receive_json()
        assert msg["type"] == "explain" and msg["index"] == 0
        assert "Backpropagation through" in msg["text"]


def test_reset_starts_over(client):
    with client.websocket_connect("/ws") as ws:
        opening(ws)
        ws.send_json({"type": "step", "n": 7})
        first = receive_until(ws, "frame")[-1]
        ws.send_json({"type": "reset"})
        again = receive_until(ws, "frame")[-1]
        assert first["step"] == 7 and again["step"] == 0
        assert again["model_version"] == first["model_version"] + 1


def test_each_tab_has_its_own_session(client):
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        opening(a)
        opening(b)
        a.send_json({"type": "config", "config": {"hidden": [3]}})
        assert receive_until(a, "config")[-1]["config"]["hidden"] == [3]
        b.send_json({"type": "step", "n": 1})
        frame = receive_until(b, "frame")[-1]
        assert len(frame["layers"][0]["w"]) == 16  # b's network is still 2-16-16-3


def test_session_limit():
    with TestClient(create_app(Limits(max_sessions=1), allowed_hosts=["testserver"])) as c:
        with c.websocket_connect("/ws") as a:
            opening(a)
            with c.websocket_connect("/ws") as b:
                msg = b.receive_json()
                assert msg["type"] == "error" and "already serves 1 pages" in msg["message"]
                with pytest.raises(WebSocketDisconnect):
                    b.receive_json()
        for _ in range(200):  # the slot is free once the server has seen the tab close
            if c.get("/info").json()["sessions"] == 0:
                break
            time.sleep(0.05)
        with c.websocket_connect("/ws") as again:
            opening(again)


def test_cross_origin_pages_cannot_connect(client):
    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert e.value.code == 1008
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        opening(ws)
