"""`chainrule playground`: starts, prints its address, serves, stops cleanly on Ctrl-C."""

import json
import urllib.request

import pytest
from _playground_server import Playground

from chainrule.cli import main
from chainrule.cli.playground import _is_loopback

pytest.importorskip("uvicorn", reason="the playground extra (uvicorn) is not installed")


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["playground", "--help"])
    out = capsys.readouterr().out
    for option in ("--port", "--host", "--no-browser"):
        assert option in out


def test_serves_on_loopback_and_stops_on_ctrl_c():
    with Playground() as p:
        assert p.url is not None, p.stop()
        assert p.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(p.url, timeout=30) as r:
            assert r.status == 200 and b"chainrule playground" in r.read()
        with urllib.request.urlopen(p.url + "info", timeout=30) as r:
            assert json.loads(r.read())["sessions"] == 0
        status, out, err = p.stop()
    assert status == 0, err
    assert "chainrule playground: stopped" in out
    assert "Traceback" not in err and "warning" not in err


def test_ctrl_c_stops_it_while_a_page_trains():
    client = pytest.importorskip("websockets.sync.client", reason="websockets is not installed")
    with Playground() as p:
        assert p.url is not None, p.stop()
        with client.connect(p.url.replace("http://", "ws://") + "ws", open_timeout=30) as ws:
            ws.send(json.dumps({"type": "start"}))
            frames = 0
            while frames < 3:  # training runs: frames arrive, each acknowledged as the page does
                msg = json.loads(ws.recv(timeout=60))
                if msg["type"] == "frame":
                    frames += 1
                    ws.send(json.dumps({"type": "ack", "n": 1}))
            status, out, err = p.stop()
    assert status == 0, err
    assert "chainrule playground: stopped" in out and "Traceback" not in err


def test_another_host_is_warned_about():
    # 192.0.2.1 is a documentation address, on no machine: the warning, then a clear error
    with Playground("--host", "192.0.2.1", "--port", "0") as p:
        status, out, err = p.stop()
    assert "warning: listening on 192.0.2.1, not 127.0.0.1" in err
    assert status == 2 and "cannot listen on 192.0.2.1:0" in err


def test_a_bad_port_is_an_error(capsys):
    assert main(["playground", "--port", "70000", "--no-browser"]) == 2
    assert "--port must be from 0 to 65535" in capsys.readouterr().err


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("example", False),
    ],
)
def test_loopback(host, loopback):
    assert _is_loopback(host) is loopback
