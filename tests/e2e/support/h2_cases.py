#!/usr/bin/python3
"""HTTP/2 cases for http2_rfc_test.rb, written with Debian's python3-h2: a
real client's state machine, with its own checks turned off where a case
must send what RFC 9113 forbids. Prints one JSON object per case.

    /usr/bin/python3 h2_cases.py PORT CASE
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

PORT = int(sys.argv[1])
CASE = sys.argv[2]


def connect(validate=True, settings=None):
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=validate,
                                       normalize_outbound_headers=validate, validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    if settings:
        conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def pump(sock, conn, until, timeout=10.0):
    """Reads events until a read brings one for which `until(event)` is true,
    or time runs out; returns them all."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not data:
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:  # what the server sent broke the rules
            seen.append({"client_error": str(e)})
            break
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        # Every event of this read is kept (one read can carry a window update,
        # the response's DATA and its end); the wait ends after the batch.
        seen.extend(events)
        if any(until(ev) for ev in events):
            return seen
    return seen


def ending(ev):
    return isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated, h2.events.StreamEnded))


def outcome(events):
    for ev in events:
        if isinstance(ev, h2.events.StreamReset):
            return {"reset": int(ev.error_code)}
        if isinstance(ev, h2.events.ConnectionTerminated):
            return {"goaway": int(ev.error_code), "last_stream": ev.last_stream_id}
        if isinstance(ev, h2.events.ResponseReceived):
            status = dict(ev.headers).get(b":status", b"").decode()
            return {"status": status}
    return {"nothing": [type(e).__name__ for e in events]}


BASE = [(":method", "GET"), (":scheme", "http"), (":authority", "localhost"), (":path", "/x")]


def malformed(headers, body=None, end=True):
    sock, conn = connect(validate=False)
    conn.send_headers(1, headers, end_stream=body is None and end)
    if body is not None:
        conn.send_data(1, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    result = outcome(pump(sock, conn, ending))
    sock.close()
    return result


def case_malformed():
    out = {}
    out["pseudo_after_regular"] = malformed(BASE[:3] + [("x-a", "1"), (":path", "/x")])
    out["connection_header"] = malformed(BASE + [("connection", "keep-alive")])
    out["te_not_trailers"] = malformed(BASE + [("te", "gzip")])
    out["missing_path"] = malformed(BASE[:3])
    out["unknown_pseudo"] = malformed(BASE + [(":protocol2", "x")])
    out["uppercase_name"] = malformed(BASE + [("X-Upper", "1")])
    post = [(":method", "POST")] + BASE[1:]
    out["content_length_short"] = malformed(post + [("content-length", "10")], body=b"hello")
    out["content_length_long"] = malformed(post + [("content-length", "2")], body=b"hello")
    return out


def case_closed_stream():
    """DATA on a stream the server has already closed (RFC 9113 section 5.1)."""
    sock, conn = connect()
    conn.send_headers(1, BASE, end_stream=True)
    sock.sendall(conn.data_to_send())
    pump(sock, conn, lambda ev: isinstance(ev, h2.events.StreamEnded))
    # python-h2 refuses to send it, so the frame is built by hand.
    sock.sendall(bytes([0, 0, 5, 0, 1, 0, 0, 0, 1]) + b"later")
    events = pump(sock, conn, lambda ev: isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)),
                  timeout=5)
    result = outcome([e for e in events if not isinstance(e, (h2.events.ResponseReceived,))])
    # and the connection (if still open) or a new one serves the next request
    sock.close()
    return result


def case_window():
    """A streamed (gRPC) body waits in the window the server advertised: the
    client may send that much before the app reads, and more only as the
    app takes it."""
    sock, conn = connect()
    total = 3 * 1024 * 1024
    conn.send_headers(1, [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                          (":path", "/count?s=1.5"), ("content-type", "application/grpc")])
    sock.sendall(conn.data_to_send())
    sent = 0
    body = b""
    chunk = b"z" * 16384
    started = time.time()
    # What had been sent when the stream's window first reopened, and when:
    # with the app asleep, that is the whole initial window and no sooner
    # than the app starts reading.
    sent_at_update = None
    update_after = None
    done = False
    while not done and time.time() - started < 30:
        window = min(conn.local_flow_control_window(1), conn.max_outbound_frame_size)
        if sent < total and window > 0:
            n = min(window, total - sent, len(chunk))
            conn.send_data(1, chunk[:n], end_stream=(sent + n == total))
            sent += n
            sock.sendall(conn.data_to_send())
            continue
        events = pump(sock, conn, lambda ev: isinstance(ev, (h2.events.WindowUpdated, h2.events.StreamEnded,
                                                             h2.events.StreamReset)), timeout=10)
        for ev in events:
            if isinstance(ev, h2.events.WindowUpdated) and ev.stream_id == 1 and sent_at_update is None:
                sent_at_update = sent
                update_after = time.time() - started
            if isinstance(ev, h2.events.DataReceived):
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, 1)
                sock.sendall(conn.data_to_send())
            if isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                done = True
        if not events:
            break
    sock.close()
    return {"sent_at_update": sent_at_update, "update_after": update_after, "sent": sent,
            "body": body.decode(errors="replace")}


CASES = {"malformed": case_malformed, "closed_stream": case_closed_stream, "window": case_window}
print(json.dumps(CASES[CASE]()))
