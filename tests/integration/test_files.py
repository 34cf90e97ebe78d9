#!/usr/bin/env python3
"""Files in chats with the real sottod and sotto (issue 14; docs/CLIENT.md "Files").

`sotto send --file` and `sotto group send --file` upload a file once, `sotto receive` saves
each received file byte for byte in HOME/files (or --save-dir), never over an existing one,
and only after checking it; `--json` reports progress. A sender or a receiver SIGKILLed in
the middle of a transfer finishes by running the same command again, continuing where it
stopped, and the message is shown once. A changed or cut blob, a full quota, an expired
blob and a missing file each give a clear error.

The kills do not race the client: SOTTO_TEST_STOP_AT=N makes the CLI stop itself (SIGSTOP)
once N bytes moved; the test waits for it to be stopped, then SIGKILLs it.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sotto_harness as h  # noqa: E402
from sotto_harness import check, wait_until  # noqa: E402

MIB = 1024 * 1024


def make_file(root, name, size, seed):
    path = os.path.join(root, name)
    block = os.urandom(65536)
    with open(path, "wb") as f:
        left, i = size, seed
        while left > 0:
            chunk = bytes([(i + k) & 0xff for k in range(7)]) + block
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))
            i += 1
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def lines(out):
    return [json.loads(l) for l in out.decode().splitlines() if l.strip()]


def server_blobs(srv):
    d = os.path.join(srv.dir, "blobs")
    return [os.path.join(d, n) for n in os.listdir(d) if n != "partial"]


def blobs_left(srv):
    """The recipients each stored blob still waits for (its BLOB_DONEs to come)."""
    db = sqlite3.connect(os.path.join(srv.dir, "sottod.db"))
    try:
        return [r[0] for r in db.execute("SELECT left FROM blobs")]
    finally:
        db.close()


def inbox_rows(u):
    """How many mails u's store files (the mail table's rows: INBOX and any folder)."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(u.home, "store.db"), uri=True)
    try:
        return db.execute("SELECT count(*) FROM mail").fetchone()[0]
    finally:
        db.close()


def partial_bytes(srv):
    d = os.path.join(srv.dir, "blobs", "partial")
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))


def stopped(p):
    """True once process p stopped itself (state T in /proc/PID/stat)."""
    try:
        with open("/proc/%d/stat" % p.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except FileNotFoundError:
        return False


def kill_when_stopped(p, what):
    wait_until(lambda: stopped(p) or p.poll() is not None, 30, what)
    check(p.poll() is None, "%s: exited (%s) before it stopped" % (what, p.returncode))
    p.send_signal(signal.SIGKILL)
    out, err = p.communicate()
    return out, err


def test_one_to_one_files_json_progress_and_history(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    a = make_file(root, "photo.png", 300 * 1024 + 5, 1)
    b = make_file(root, "empty.txt", 0, 2)
    r = alice.run("send", "--json", bob.address, "two files", "--file", a, "--file", b)
    check(r.returncode == 0, (r.returncode, r.stderr))
    out = lines(r.stdout)
    sent = [o for o in out if o["type"] == "sent"]
    check(len(sent) == 3 and "file" not in sent[0] and sent[1]["file"] == a, out)
    prog = [o for o in out if o["type"] == "progress"]
    check(prog and all(o["direction"] == "upload" for o in prog), prog)
    check(prog[-1]["done"] == prog[-1]["total"] and prog[-1]["name"] == "empty.txt", prog)
    big = [o for o in prog if o["name"] == "photo.png"]
    check(len(big) > 2 and big[-1]["done"] == big[-1]["total"] == 512 * 1024, big)
    check(len(server_blobs(srv)) == 2, server_blobs(srv))
    # the server holds ciphertext only
    check(h.file_contains([os.path.join(srv.dir, "blobs")], read(a)[1000:1064]) is None,
          "plaintext on the server")

    r = bob.run("receive", "--json", "--wait", "10")
    check(r.returncode == 0, (r.returncode, r.stderr))
    got = lines(r.stdout)
    files = [o for o in got if o["type"] == "file"]
    check([o["name"] for o in files] == ["photo.png", "empty.txt"], got)
    check([o["type"] for o in got if o["type"] != "progress"] == ["text", "file", "file"], got)
    check(files[0]["size"] == 300 * 1024 + 5 and files[0]["media_type"] == "image/png", files)
    saved = os.path.join(bob.home, "files", "photo.png")
    check(files[0]["path"] == saved and read(saved) == read(a), files)
    check(read(files[1]["path"]) == b"", files)
    down = [o for o in got if o["type"] == "progress" and o["direction"] == "download"]
    check(down and down[-1]["done"] == down[-1]["total"], down)
    # fetched by its one recipient: each blob expires at once (its BLOB_DONE came)
    check(blobs_left(srv) == [0, 0], blobs_left(srv))

    hist = bob.history()
    hf = [e for e in hist if e["type"] == "file"]
    check(len(hf) == 2 and hf[0]["path"] == saved and hf[0]["name"] == "photo.png", hist)
    r = bob.run("history")
    check(b"file photo.png (300.0 KiB), saved to " + saved.encode() in r.stdout, r.stdout)
    ah = [e for e in alice.history() if e["type"] == "file"]
    check(len(ah) == 2 and ah[0]["direction"] == "out" and "path" not in ah[0], ah)
    # nothing more comes, nothing is shown again
    check(bob.receive() == [], "shown twice")


def test_no_overwrite_and_save_dir(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    os.makedirs(os.path.join(root, "a"))
    os.makedirs(os.path.join(root, "b"))
    one = make_file(os.path.join(root, "a"), "report.pdf", 70000, 3)
    two = make_file(os.path.join(root, "b"), "report.pdf", 90000, 4)
    save = os.path.join(root, "inbox")
    os.makedirs(save)
    mine = os.path.join(save, "report.pdf")
    with open(mine, "wb") as f:
        f.write(b"my own file, not to be replaced")
    for p in (one, two):
        r = alice.run("send", bob.address, "--file", p)
        check(r.returncode == 0, (r.returncode, r.stderr))
    r = bob.run("receive", "--save-dir", save, "--wait", "10")
    check(r.returncode == 0, (r.returncode, r.stderr))
    check(read(mine) == b"my own file, not to be replaced", "replaced")
    check(read(os.path.join(save, "report (1).pdf")) == read(one), os.listdir(save))
    check(read(os.path.join(save, "report (2).pdf")) == read(two), os.listdir(save))
    check(sorted(os.listdir(save)) == ["report (1).pdf", "report (2).pdf", "report.pdf"],
          os.listdir(save))
    out = r.stdout.decode()
    check("file report.pdf (68.4 KiB), saved to %s/report (1).pdf" % save in out, out)
    check(not os.path.exists(os.path.join(bob.home, "files", "report.pdf")), "saved twice")


def test_group_file_uploaded_once(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    carol = h.User(root, "carol", srv)
    for u in (bob, carol):
        u.receive()     # uploads the KeyPackages that let it be added
    r = alice.run("group", "create", "team", bob.address, carol.address)
    check(r.returncode == 0, r.stderr)
    joined = {}
    for u in (bob, carol):
        u.receive(wait=10)
        # the joining is filed as a mail (a group's change, docs/PROTOCOL.md 14.5)
        joined[u.name] = inbox_rows(u)
        check(joined[u.name] >= 1, joined)
    p = make_file(root, "plan.txt", 2 * MIB + 17, 5)
    r = alice.run("group", "send", "--json", "team", "--file", p)
    check(r.returncode == 0, (r.returncode, r.stderr))
    out = lines(r.stdout)
    check([o["type"] for o in out if o["type"] != "progress"] == ["sent"], out)
    check(out[-2]["type"] == "progress" and out[-2]["done"] == out[-2]["total"], out[-2:])
    blobs = server_blobs(srv)
    check(len(blobs) == 1, blobs)       # once for the group, not once per member
    check(blobs_left(srv) == [2], blobs_left(srv))     # declared for the two others
    for u in (bob, carol):
        got = u.receive(wait=10)
        files = [o for o in got if o["type"] == "file"]
        check(len(files) == 1 and files[0]["from"] == alice.address, got)
        check(read(files[0]["path"]) == read(p), files)
        hist = [e for e in u.history() if e["type"] == "file"]
        check(len(hist) == 1 and hist[0].get("group_name") == "team", hist)
        # a group file is no mail (docs/PROTOCOL.md 14.5): nothing filed for the bridge
        check(inbox_rows(u) == joined[u.name], (inbox_rows(u), joined))
    # both members fetched it: it expires at once
    check(blobs_left(srv) == [0], blobs_left(srv))
    # a group text after it is filed as a mail, once, beside the file
    r = alice.run("group", "send", "team", "the plan is above")
    check(r.returncode == 0, r.stderr)
    for u in (bob, carol):
        got = u.receive(wait=10)
        check([o["body"] for o in got if o["type"] == "text"] == ["the plan is above"], got)
        check(inbox_rows(u) == joined[u.name] + 1, (inbox_rows(u), joined))
        check(len([e for e in u.history() if e["type"] == "file"]) == 1, u.history())


def test_sender_killed_mid_upload_reruns(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    p = make_file(root, "video.mp4", 3 * MIB, 6)
    env = dict(os.environ, SOTTO_TEST_STOP_AT=str(MIB))
    proc = subprocess.Popen(alice.argv("send", "--json", bob.address, "--file", p), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = kill_when_stopped(proc, "the upload to stop")
    prog = [o for o in lines(out) if o["type"] == "progress"]
    check(prog and MIB <= prog[-1]["done"] < prog[-1]["total"], prog)
    check(not any(o["type"] == "sent" for o in lines(out)), out)
    check(partial_bytes(srv) >= MIB and not server_blobs(srv), "no partial upload")
    # the same command again continues where the server stands
    r = alice.run("send", "--json", bob.address, "--file", p)
    check(r.returncode == 0, (r.returncode, r.stderr))
    prog = [o for o in lines(r.stdout) if o["type"] == "progress"]
    check(prog[0]["done"] >= MIB and prog[-1]["done"] == prog[-1]["total"], prog[:2])
    check(len(server_blobs(srv)) == 1, server_blobs(srv))
    got = bob.receive(wait=10)
    files = [o for o in got if o["type"] == "file"]
    check(len(files) == 1 and read(files[0]["path"]) == read(p), got)
    check(bob.receive() == [], "shown twice")
    check(len([e for e in bob.history() if e["type"] == "file"]) == 1, "stored twice")
    check(os.listdir(os.path.join(alice.home, "transfers")) == [], "the upload's state stays")


def test_receiver_killed_mid_download_reruns(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    p = make_file(root, "album.zip", 3 * MIB + 1, 7)
    r = alice.run("send", bob.address, "here", "--file", p)
    check(r.returncode == 0, (r.returncode, r.stderr))
    env = dict(os.environ, SOTTO_TEST_STOP_AT=str(MIB))
    proc = subprocess.Popen(bob.argv("receive", "--json", "--wait", "10"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = kill_when_stopped(proc, "the download to stop")
    first = lines(out)
    check([o["type"] for o in first if o["type"] != "progress"] == ["text"], first)
    check(not os.path.exists(os.path.join(bob.home, "files", "album.zip")), "shown early")
    r = bob.run("receive", "--json")
    check(r.returncode == 0, (r.returncode, r.stderr))
    second = lines(r.stdout)
    prog = [o for o in second if o["type"] == "progress"]
    check(prog[0]["done"] >= MIB and prog[-1]["done"] == prog[-1]["total"], prog[:2])
    files = [o for o in second if o["type"] == "file"]
    check(len(files) == 1 and read(files[0]["path"]) == read(p), second)
    check([o["type"] for o in second if o["type"] != "progress"] == ["file"], second)
    check(bob.receive() == [], "shown twice")
    check(os.listdir(os.path.join(bob.home, "files")) == ["album.zip"],
          os.listdir(os.path.join(bob.home, "files")))
    check(os.listdir(os.path.join(bob.home, "transfers")) == [], "the download's state stays")


def test_changed_or_cut_blob_refused(root, servers):
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    p = make_file(root, "contract.pdf", 200 * 1024, 8)
    for how in ("changed", "cut"):
        bob = h.User(root, "bob-" + how, srv)
        r = alice.run("send", bob.address, "--file", p)
        check(r.returncode == 0, (r.returncode, r.stderr))
        blob = server_blobs(srv)[0]
        with open(blob, "r+b") as f:
            if how == "changed":
                f.seek(100000)
                b = f.read(1)
                f.seek(100000)
                f.write(bytes([b[0] ^ 1]))
            else:
                f.truncate(150000)
        r = bob.run("receive", "--wait", "10")
        # changed: the client's checks refuse it; cut: the server can no longer serve it
        check(r.returncode == 10 if how == "changed" else r.returncode != 0,
              (how, r.returncode, r.stdout, r.stderr))
        check(r.stderr.count(b"fetch contract.pdf") == 1, (how, r.stderr))
        if how == "changed":
            check(b"refused, nothing was kept" in r.stderr, (how, r.stderr))
        check(b"contract.pdf" not in r.stdout, (how, r.stdout))
        files = os.path.join(bob.home, "files")
        check(not os.path.exists(files) or os.listdir(files) == [], os.listdir(files))
        os.unlink(blob)     # the next round's blob is the only one


def peak_rss_kib(argv):
    """Runs argv to its end; (exit code, its peak resident set in KiB). Under
    AddressSanitizer without its quarantine, which would keep every freed chunk."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=asan + (":" if asan else "") +
               "quarantine_size_mb=0:thread_local_quarantine_size_kb=0")
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stderr.close()
    return p.returncode, usage.ru_maxrss


def test_memory_does_not_grow_with_the_file(root, servers):
    """Sending and receiving a 24 MiB file takes no more memory than a 1 MiB one (give or
    take 8 MiB): the client streams, it never holds the file."""
    srv = h.Server(root)
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    rss = {}
    for size in (1, 24):
        p = make_file(root, "f%d.bin" % size, size * MIB, size)
        rc, up = peak_rss_kib(alice.argv("send", bob.address, "--file", p))
        check(rc == 0, "send %d MiB: exit %d" % (size, rc))
        rc, down = peak_rss_kib(bob.argv("receive", "--wait", "10"))
        check(rc == 0, "receive %d MiB: exit %d" % (size, rc))
        check(read(os.path.join(bob.home, "files", "f%d.bin" % size)) == read(p), size)
        rss[size] = (up, down)
    for i, what in enumerate(("send", "receive")):
        grew = rss[24][i] - rss[1][i]
        check(grew < 8 * 1024, "%s: %d KiB more for 24 MiB than for 1 MiB (%r)" %
              (what, grew, rss))


def test_request_rate_limit_is_waited_out(root, servers):
    """A transfer of more chunks than the server's request rate lets through at once
    (conn_rate, conn_burst) waits and goes on: refused requests are made again, not fatal."""
    srv = h.Server(root, conf="conn_rate = 40\nconn_burst = 40\n")
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    p = make_file(root, "many.bin", 6 * MIB, 5)       # 97 chunks each way, 24 requests/s
    r = alice.run("send", bob.address, "--file", p)
    check(r.returncode == 0, (r.returncode, r.stderr))
    save = os.path.join(root, "inbox")
    os.makedirs(save)
    r = bob.run("receive", "--save-dir", save, "--wait", "10")
    check(r.returncode == 0, (r.returncode, r.stderr))
    check(read(os.path.join(save, "many.bin")) == read(p), "received bytes differ")


def test_errors_missing_file_quota_expired(root, servers):
    srv = h.Server(root, conf="blob_quota_mib = 1\nblob_expiry = 1\n")
    servers.append(srv)
    alice = h.User(root, "alice", srv)
    bob = h.User(root, "bob", srv)
    missing = os.path.join(root, "nope.txt")
    r = alice.run("send", bob.address, "--file", missing)
    check(r.returncode == 9 and b"nope.txt: No such file or directory" in r.stderr,
          (r.returncode, r.stderr))
    r = alice.run("send", bob.address, "--file", root)
    check(r.returncode == 10 and b"not a regular file" in r.stderr, (r.returncode, r.stderr))
    check(bob.receive() == [], "something was sent")
    big = make_file(root, "big.bin", 2 * MIB, 9)
    r = alice.run("send", bob.address, "--file", big)
    check(r.returncode == 7 and b"quota" in r.stderr, (r.returncode, r.stderr))
    small = make_file(root, "small.bin", 1000, 10)
    r = alice.run("send", bob.address, "--file", small)
    check(r.returncode == 0, (r.returncode, r.stderr))
    wait_until(lambda: not server_blobs(srv), 30, "the blob to expire (blob_expiry = 1)")
    r = bob.run("receive", "--wait", "10")
    check(r.returncode == 9 and b"no longer on the server" in r.stderr,
          (r.returncode, r.stderr))


if __name__ == "__main__":
    h.run_tests([
        test_one_to_one_files_json_progress_and_history,
        test_no_overwrite_and_save_dir,
        test_group_file_uploaded_once,
        test_sender_killed_mid_upload_reruns,
        test_receiver_killed_mid_download_reruns,
        test_changed_or_cut_blob_refused,
        test_memory_does_not_grow_with_the_file,
        test_errors_missing_file_quota_expired,
        test_request_rate_limit_is_waited_out,
    ])
