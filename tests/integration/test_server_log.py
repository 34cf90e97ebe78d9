#!/usr/bin/env python3
"""What sottod's log says about its users (issue 15): at the default level no account
name, no identity or device key (raw, base64, hex) and no client IP address; at
`log_level = debug` the names, device keys and addresses are there.

The same traffic runs against a server at each level: registrations (one refused for a
taken name), messages both ways, failed logins (a handshake of garbage, a client that
pins another server key, a copied store refused), and a connection cap hit from one
address. The server listens on 127.0.0.2 so that its own address, which the log names,
is not the clients' (127.0.0.1)."""
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402

NAMES = ("wrenfield", "osgoodby", "quillane")
CLIENT_IP = b"127.0.0.1"
CONNS_PER_ADDR = 6


def log_text(srv):
    with open(srv.log_path, "rb") as f:
        return f.read()


def wait_log(srv, needle, count, what):
    h.wait_until(lambda: log_text(srv).count(needle) >= count, 15, what)


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        h.check(chunk, "the server closed before its handshake reply")
        got += chunk
    return got


def garbage_handshake(srv):
    """A Noise_XX login whose third message (-> s, se) is garbage: it fails to decrypt."""
    failed = log_text(srv).count(b"handshake failed")
    s = socket.create_connection((srv.host, srv.port), timeout=h.scaled(10))
    try:
        s.sendall(b"\x00\x20" + os.urandom(32))           # -> e: any 32 bytes
        recv_exact(s, 2 + 96)                             # <- e, ee, s, es
        s.sendall(b"\x00\x40" + os.urandom(64))
        wait_log(srv, b"handshake failed", failed + 1, "the failed handshake")
    finally:
        s.close()


def connection_cap(srv):
    """One address opens more connections than max_conns_per_addr: the last is closed."""
    held = [socket.create_connection((srv.host, srv.port), timeout=h.scaled(10))
            for _ in range(CONNS_PER_ADDR + 1)]
    try:
        wait_log(srv, b"too many connections from this address", 1, "the connection cap")
    finally:
        for s in held:
            s.close()


def wrong_server_key(root, srv):
    """A client that pins another key: the handshake fails, no account is made."""
    key, rest = srv.address[len("sotto://"):].split("@", 1)
    other = ("B" if key[0] != "B" else "C") + key[1:]
    try:
        h.User(root, "pelmorrow", srv, server_address="sotto://%s@%s" % (other, rest))
    except RuntimeError:
        return
    raise AssertionError("a client pinning another server key registered")


def copied_store_refused(root, user):
    copy = object.__new__(h.User)
    copy.__dict__.update(user.__dict__)
    copy.home = os.path.join(root, user.name + "-copy")
    shutil.copytree(user.home, copy.home)
    user.receive()                      # two logins of the original since the copy
    user.receive()
    r = copy.run("receive")
    h.check(r.returncode == 7, "the copy: rc %d: %s" % (r.returncode, r.stderr))


def traffic(root, servers, debug):
    conf = "max_conns_per_addr = %d\n" % CONNS_PER_ADDR
    if debug:
        conf += "log_level = debug\n"
    srv = h.Server(root, conf=conf, host="127.0.0.2")
    servers.append(srv)
    a, b, c = [h.User(root, n, srv) for n in NAMES]
    a.send(b, "one")
    h.check([m["body"] for m in b.receive()] == ["one"], "b received")
    b.send(a, "two")
    c.send(a, "three")
    got = a.receive()
    h.check(sorted(m.get("body") for m in got if m["type"] == "text") == ["three", "two"],
            "a received %r" % got)
    taken = h.User.__new__(h.User)
    taken.__dict__.update(a.__dict__)
    taken.home = os.path.join(root, "taken")
    r = taken.run("init", a.address, "--server", srv.address, "--kdf", "min")
    h.check(r.returncode != 0, "a second device registered a taken name")
    garbage_handshake(srv)
    wrong_server_key(root, srv)
    copied_store_refused(root, c)
    connection_cap(srv)
    srv.stop()
    text = log_text(srv)
    h.check(b"registration refused" in text and b"refused a copy" in text, text[-2000:])
    keys = {n: srv.account_keys(n) for n in NAMES}
    return text, keys


def found(text, keys):
    """What of the users the log names: a list of descriptions."""
    out = []
    if CLIENT_IP in text:
        out.append("client IP")
    for name, (ik, dk) in keys.items():
        if name.encode() in text:
            out.append("name " + name)
        for k, what in ((ik, "identity"), (dk, "device")):
            if any(f in text for f in h.key_forms(k)):
                out.append("%s key of %s" % (what, name))
    return out


def test_default_level_names_no_one(root, servers):
    text, keys = traffic(root, servers, debug=False)
    leaks = found(text, keys)
    h.check(leaks == [], "the log at the default level holds %s" % ", ".join(leaks))
    # The log still says what happened.
    for line in (b"registered an account", b"account connected", b"handshake failed",
                 b"too many connections from this address"):
        h.check(line in text, "no %r in the log" % line)


def test_debug_level_names_users_keys_and_addresses(root, servers):
    text, keys = traffic(root, servers, debug=True)
    leaks = set(found(text, keys))
    want = {"client IP"} | {"name " + n for n in NAMES} | \
        {"device key of " + n for n in NAMES}
    h.check(want <= leaks, "the debug log lacks %s" % ", ".join(sorted(want - leaks)))


if __name__ == "__main__":
    h.run_tests([test_default_level_names_no_one,
                 test_debug_level_names_users_keys_and_addresses])
