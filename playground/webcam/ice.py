"""The live camera's ICE servers, from the server's configuration (``$CNNPG_ICE_SERVERS``; docs/hosting.md).

A browser and the server connect a WebRTC stream directly. On one machine or one network (a classroom) no help is
needed, and none is asked for: the default is no ICE server at all, so nothing reaches out to a public STUN server.
Behind NAT — a hosted server, students at home — the two ends need a STUN server to learn their public addresses and
often a TURN server to relay the stream. ``$CNNPG_ICE_SERVERS`` lists them as WebRTC's ``RTCIceServer`` dictionaries
in JSON (W3C WebRTC 1.0, "RTCIceServer"), the same for the browser and for the server's end (aiortc):

    [{"urls": "stun:stun.example.org:3478"},
     {"urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
      "username": "class", "credential": "secret"}]

``ice_servers`` checks the list once, and says which entry is wrong and why (a browser given a TURN server without
credentials refuses the whole configuration, so that is refused here, with the variable's name).
"""

from __future__ import annotations

import json
import os
from typing import Any

ENV_VAR = "CNNPG_ICE_SERVERS"
SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
KEYS = ("urls", "username", "credential")
EXAMPLE = '[{"urls": "turn:turn.example.org:3478", "username": "class", "credential": "secret"}]'


def parse_ice_servers(text: str) -> list[dict[str, Any]]:
    """``text`` (JSON) as a list of ``RTCIceServer`` dicts; ``[]`` for an empty text. ``ValueError`` naming
    ``$CNNPG_ICE_SERVERS``, the entry and what would be valid."""
    if not text.strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{ENV_VAR} is not valid JSON ({e.msg} at character {e.pos}); give a list like "
                         f"{EXAMPLE}") from None
    if not isinstance(value, list):
        raise ValueError(f"{ENV_VAR} must be a JSON list of ICE servers like {EXAMPLE}, got a "
                         f"{type(value).__name__}")
    return [_server(i, entry) for i, entry in enumerate(value)]


def _server(i: int, entry: Any) -> dict[str, Any]:
    where = f"{ENV_VAR} entry {i}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with \"urls\" (and \"username\", \"credential\" for TURN), got "
                         f"{json.dumps(entry)[:80]}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(KEYS)}")
    urls = entry.get("urls")
    listed = [urls] if isinstance(urls, str) else urls
    if not isinstance(listed, list) or not listed or not all(isinstance(u, str) for u in listed):
        raise ValueError(f"{where}: \"urls\" must be a URL or a non-empty list of URLs, got {json.dumps(urls)[:80]}")
    for url in listed:
        if not url.startswith(SCHEMES):
            raise ValueError(f"{where}: {url!r} is not an ICE server URL; it must start with "
                             f"{', '.join(SCHEMES)}")
    for key in ("username", "credential"):
        if key in entry and not isinstance(entry[key], str):
            raise ValueError(f"{where}: \"{key}\" must be a string")
    turn = [u for u in listed if u.startswith(("turn:", "turns:"))]
    if turn and not (entry.get("username") and entry.get("credential")):
        raise ValueError(f"{where}: the TURN server {turn[0]!r} needs a \"username\" and a \"credential\" (browsers "
                         f"refuse a TURN server without them)")
    return dict(entry)


def ice_servers() -> list[dict[str, Any]]:
    """``$CNNPG_ICE_SERVERS``, checked (``parse_ice_servers``); ``[]`` when unset."""
    return parse_ice_servers(os.environ.get(ENV_VAR, ""))


def rtc_configuration() -> dict[str, Any]:
    """The ``RTCConfiguration`` every live camera uses (``webrtc_streamer(rtc_configuration=...)``)."""
    return {"iceServers": ice_servers()}
