"""The live camera's ICE servers from ``CNNPG_ICE_SERVERS`` (playground/webcam/ice.py; issue 9, "Hosting"): parsed
and checked with messages that name the variable and the entry, and given to every stream — the app's one
``webrtc_streamer`` call, checked here to be the only one. Only the webcam component is replaced (it needs the real
server); the sessions are real."""

from __future__ import annotations

import ast
import gc
import json
from pathlib import Path

import pytest
import streamlit_webrtc
from apptest_helpers import FakeStreamer
from streamlit.testing.v1 import AppTest

from playground.webcam.ice import parse_ice_servers

ROOT = Path(__file__).resolve().parents[2]
TURN = {"urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"], "username": "class",
        "credential": "s3cret"}


def test_unset_or_empty_means_no_ice_server() -> None:
    assert parse_ice_servers("") == parse_ice_servers("  \n") == parse_ice_servers("[]") == []


def test_stun_and_turn_servers_are_taken_as_given() -> None:
    servers = [{"urls": "stun:stun.example.org:3478"}, TURN]
    assert parse_ice_servers(json.dumps(servers)) == servers


@pytest.mark.parametrize(("text", "message"), [
    ('{"urls": "stun:a"}', "CNNPG_ICE_SERVERS must be a JSON list of ICE servers like "),
    ("[{urls: stun:a}]", "CNNPG_ICE_SERVERS is not valid JSON (Expecting property name enclosed in double quotes at "
                         "character 2); give a list like "),
    ('["stun:a"]', 'CNNPG_ICE_SERVERS entry 0 must be an object with "urls"'),
    ('[{"url": "stun:a"}]', "CNNPG_ICE_SERVERS entry 0 has unknown key(s) 'url'; valid: urls, username, credential"),
    ('[{"urls": []}]', 'CNNPG_ICE_SERVERS entry 0: "urls" must be a URL or a non-empty list of URLs, got []'),
    ('[{"urls": "stun:a"}, {"urls": "https://turn.example.org"}]',
     "CNNPG_ICE_SERVERS entry 1: 'https://turn.example.org' is not an ICE server URL; it must start with stun:, "
     "stuns:, turn:, turns:"),
    ('[{"urls": "turn:turn.example.org:3478"}]',
     "CNNPG_ICE_SERVERS entry 0: the TURN server 'turn:turn.example.org:3478' needs a \"username\" and a "
     "\"credential\" (browsers refuse a TURN server without them)"),
    ('[{"urls": "turns:t", "username": "u", "credential": 5}]', 'CNNPG_ICE_SERVERS entry 0: "credential" must be '
                                                                "a string"),
])
def test_a_bad_setting_says_which_entry_and_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_ice_servers(text)
    assert str(e.value).startswith(message), str(e.value)


def _camera_page(monkeypatch, servers: str | None) -> tuple[AppTest, FakeStreamer]:
    fake = FakeStreamer()
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    if servers is None:
        monkeypatch.delenv("CNNPG_ICE_SERVERS", raising=False)
    else:
        monkeypatch.setenv("CNNPG_ICE_SERVERS", servers)

    def page():
        from playground.webcam.stream import frame_stream

        frame_stream("ice")

    gc.collect()  # streams of earlier tests' sessions stop counting
    at = AppTest.from_function(page, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, fake


def test_every_stream_gets_the_configured_servers(monkeypatch) -> None:
    _, fake = _camera_page(monkeypatch, json.dumps([TURN]))
    assert [c["rtc_configuration"] for c in fake.calls] == [{"iceServers": [TURN]}]
    _, fake = _camera_page(monkeypatch, None)  # unset: none at all (no public STUN server asked)
    assert [c["rtc_configuration"] for c in fake.calls] == [{"iceServers": []}]


def test_a_bad_setting_is_said_on_the_page_and_no_camera_is_drawn(monkeypatch) -> None:
    at, fake = _camera_page(monkeypatch, '[{"urls": "turn:t"}]')
    assert fake.calls == []
    assert [e.value for e in at.error] == [
        "The live camera is misconfigured on this server: CNNPG_ICE_SERVERS entry 0: the TURN server 'turn:t' needs "
        "a \"username\" and a \"credential\" (browsers refuse a TURN server without them)"]


def test_the_app_has_one_webrtc_streamer_call() -> None:
    """Every page's camera goes through ``frame_stream``: no other call could miss the configuration."""
    calls = [f"{p.relative_to(ROOT)}" for d in ("playground", "pages") for p in sorted((ROOT / d).rglob("*.py"))
             for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Call)
             and "webrtc_streamer" in (getattr(node.func, "attr", None), getattr(node.func, "id", None))]
    assert calls == ["playground/webcam/stream.py"]
