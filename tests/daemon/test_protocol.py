"""The control protocol's codec and framing on their own (no sockets): what the server and
both clients share. The same paths run over real sockets in test_control.py and tests/ctl/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trade_hunter.daemon import protocol


def test_a_request_round_trips_with_its_token():
    line = protocol.encode_request(7, "signals.list", {"limit": 5}, token="secret")
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    [message], batch = protocol.decode_line(line.rstrip(b"\n"))
    assert not batch
    request = protocol.decode_request(message, token="secret")
    assert request == protocol.Request(7, "signals.list", {"limit": 5}, notification=False)


def test_a_wrong_token_is_refused_and_closes_the_connection():
    line = protocol.encode_request(1, "status", token="guess")
    [message], _ = protocol.decode_line(line)
    with pytest.raises(protocol.RequestError) as refused:
        protocol.decode_request(message, token="secret")
    assert refused.value.close
    assert json.loads(refused.value.answer)["error"]["data"]["name"] == "unauthorized"


def test_an_oversized_request_is_refused_before_sending():
    with pytest.raises(protocol.CallError) as caught:
        protocol.encode_request(1, "x.y", {"blob": "x" * protocol.MAX_LINE})
    assert caught.value.name == "line_too_long"


def test_results_and_errors_decode_on_the_client_side():
    assert protocol.decode_response(protocol.encode_result(3, {"a": [1]}), 3) == {"a": [1]}
    answer = protocol.encode_error(3, "invalid_params", "bad ticker", {"valid": ["A"]})
    with pytest.raises(protocol.CallError) as caught:
        protocol.decode_response(answer, 3)
    error = caught.value
    assert (error.code, error.name, error.message) == (-32602, "invalid_params", "bad ticker")
    assert error.data == {"name": "invalid_params", "valid": ["A"]}
    with pytest.raises(protocol.ProtocolError, match="request id"):
        protocol.decode_response(protocol.encode_result(4, None), 3)


def test_a_notification_with_bad_params_gets_no_answer():
    with pytest.raises(protocol.RequestError) as refused:
        protocol.decode_request({"jsonrpc": "2.0", "method": "status", "params": [1]}, None)
    assert refused.value.answer is None
    with pytest.raises(protocol.RequestError) as answered:
        protocol.decode_request({"jsonrpc": "2.0", "id": 2, "method": "status",
                                 "params": [1]}, None)
    assert json.loads(answered.value.answer)["id"] == 2


def test_batches_join_their_answers():
    messages, batch = protocol.decode_line(b'[{"jsonrpc": "2.0"}, 1]')
    assert batch and len(messages) == 2
    joined = protocol.encode_batch([protocol.encode_result(1, 1), protocol.encode_result(2, 2)])
    assert [r["id"] for r in json.loads(joined)] == [1, 2]
    assert protocol.encode_batch([]) is None


def test_take_line_frames_and_caps():
    buffer = bytearray(b"one\ntwo\nthr")
    assert protocol.take_line(buffer, 10) == b"one"
    assert protocol.take_line(buffer, 10) == b"two"
    assert protocol.take_line(buffer, 10) is None and buffer == b"thr"
    assert protocol.take_line(bytearray(b"x" * 10 + b"\n"), 10) == b"x" * 10  # at the cap
    with pytest.raises(protocol.LineTooLong):
        protocol.take_line(bytearray(b"x" * 11), 10)
    with pytest.raises(protocol.LineTooLong):
        protocol.take_line(bytearray(b"x" * 11 + b"\n"), 10)


def test_endpoint_conventions(tmp_path: Path):
    assert protocol.endpoint_path(tmp_path) == tmp_path / "control" / "endpoint.json"
    assert protocol.parse_endpoint('{"transport": "tcp", "port": 1}')["port"] == 1
    with pytest.raises(ValueError):
        protocol.parse_endpoint('{"transport": "pigeon"}')
    assert protocol.token_matches("abc", "abc") and not protocol.token_matches(None, "abc")
    assert len(protocol.new_token()) >= 40
