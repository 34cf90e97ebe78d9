#!/usr/bin/env python3
"""`sotto daemon`'s file methods (docs/CLIENT.md "Files"): send_file and group_send_file
upload with "progress" notifications to the asking client; a received file is a "message"
notification of type file; files_pending lists what is not fetched; fetch_file saves it
(checked) with download progress and answers where it went."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sotto_harness import Server, User, check, run_tests  # noqa: E402
from test_daemon import Rpc, check_clean_log, start_daemon, stop  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_daemon_files(root, servers):
    srv = Server(root)
    servers.append(srv)
    alice, bob, carol = (User(root, n, srv) for n in ("alice", "bob", "carol"))
    for u in (bob, carol):
        u.receive()     # their KeyPackages, for the group below
    src = os.path.join(root, "deck.pdf")
    with open(src, "wb") as f:
        f.write(os.urandom(200 * 1024 + 3))
    pa, path_a = start_daemon(root, alice, "--no-bridge")
    try:
        a = Rpc(path_a)
        # 1:1, from the daemon
        res = a.result("send_file", {"to": bob.address, "path": src, "caption": "slides"})
        check(len(res["id"]) == 32 and res["queued"] is False, res)
        prog = [n["params"] for n in a.notes if n.get("method") == "progress"]
        check(prog and all(p["direction"] == "upload" and p["name"] == "deck.pdf"
                           for p in prog), prog)
        check(prog[-1]["done"] == prog[-1]["total"] == 256 * 1024, prog[-1])
        a.notes = []
        got = [m for m in bob.receive(wait=10) if m["type"] == "file"]
        check(len(got) == 1 and got[0]["id"] == res["id"] and read(got[0]["path"]) == read(src),
              got)
        # to the daemon: notified, pending until fetched, fetched with progress
        back = os.path.join(root, "reply.txt")
        with open(back, "wb") as f:
            f.write(b"reply " * 5000)
        r = bob.run("send", alice.address, "--file", back)
        check(r.returncode == 0, r.stderr)
        m = a.notification("message", timeout=20)["params"]
        check(m["type"] == "file" and m["name"] == "reply.txt" and m["size"] == 30000, m)
        check("path" not in m and m["from"] == bob.address, m)
        check(a.result("files_pending") == [m["id"]], a.result("files_pending"))
        save = os.path.join(root, "alice-files")
        res = a.result("fetch_file", {"id": m["id"], "dir": save})
        check(res["path"] == os.path.join(save, "reply.txt") and res["size"] == 30000, res)
        check(read(res["path"]) == read(back), "not the bytes sent")
        prog = [n["params"] for n in a.notes if n.get("method") == "progress"]
        check(prog and prog[-1]["direction"] == "download" and
              prog[-1]["done"] == prog[-1]["total"], prog)
        check(a.result("files_pending") == [], "still pending")
        # fetched before: the same path, not a second copy
        check(a.result("fetch_file", {"id": m["id"]})["path"] == res["path"], "fetched twice")
        check(os.listdir(save) == ["reply.txt"], os.listdir(save))
        # to a group: one upload
        a.result("group_create", {"name": "Team", "members": [bob.address, carol.address]})
        blobs = os.path.join(srv.dir, "blobs")
        before = set(os.listdir(blobs))
        res = a.result("group_send_file", {"group": "Team", "path": src})
        check(len(set(os.listdir(blobs)) - before) == 1, os.listdir(blobs))
        for u in (bob, carol):
            got = [x for x in u.receive(wait=10) if x["type"] == "file"]
            check(len(got) == 1 and read(got[0]["path"]) == read(src), got)
        # errors: no such message, a bad id, a missing file
        e = a.call("fetch_file", {"id": "00" * 16})["error"]
        check(e["code"] == -32000 - 17, e)
        check(a.call("fetch_file", {"id": "xyz"})["error"]["code"] == -32602, "bad id")
        e = a.call("send_file", {"to": bob.address, "path": os.path.join(root, "nope")})
        check(e["error"]["code"] == -32000 - 17, e)
        check(a.call("send_file", {"path": src})["error"]["code"] == -32602, "no to")
    finally:
        ra = stop(pa)
    check(ra == 0, "daemon exit code %r" % ra)
    check_clean_log(root, alice)


if __name__ == "__main__":
    run_tests([test_daemon_files])
