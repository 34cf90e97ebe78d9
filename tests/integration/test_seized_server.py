#!/usr/bin/env python3
"""A seized server must not tell who wrote to whom (issue 15; docs/THREAT_MODEL.md
section 2b, "What a seized server holds").

A day of traffic among ten users through the real sottod and sotto binaries: first
contacts (identified) and replies and follow-ups both ways around a ring (sealed, with the
recipient's delivery token), a group (created, a member added later, messages), a sender
SIGKILLed in the middle of a sealed send whose next run sends it again under the same id
(stored once, received once), a server restart in the middle, then every mailbox drained.
Then the evening's messages, which wait at the seizure: for every offline recipient three
envelopes, two sealed and one a first contact sent identified, and two group messages.

The server is then killed (the power pulled: WAL and SHM as they are) and its data
directory (database, WAL, SHM, keys, configuration, blobs: every file) and its log at the
default level go to seized_analysis.py, which searches every identifier of every user in
every encoding in every table cell, file byte and log line, and joins the waiting messages
with every column of every table and the log. It must find identifiers only where
THREAT_MODEL.md allows them and no join that ties a waiting message to its sender; it must
find each envelope's recipient (which the server needs). The ground truth of the analysis
(which envelope came from whom) is checked afterwards by the recipients' clients.

The negative control: the same analysis of a server at `log_level = debug` (whose log
names accounts, device keys and addresses) over first contacts, sent identified, must find
those identifiers in the log and links from the log to the messages' senders, so that the
analysis cannot pass by finding nothing.

The server listens on 127.0.0.2 and the clients connect from 127.0.0.1, which is then
searched as an identifier too."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seized_analysis as sa  # noqa: E402
import sotto_harness as h  # noqa: E402

NAMES = ("ambrelune", "birchwold", "corvaneth", "dusktarra", "elmsquire",
         "fenwillow", "galdoreth", "hollisand", "ivoryclay", "juniperax")
CLIENT_IP = b"127.0.0.1"
SERVER_HOST = "127.0.0.2"
GROUP_MEMBERS = (0, 1, 2, 3, 4)          # 4 added later
WRITERS = (1, 3, 5, 7, 9)                # the evening; 0, 2, 4, 6, 8 are offline

# The delivery token of a user, from its store (libsotto's client_token_get), in a
# subprocess: an ASan build's libsotto.so needs its runtime loaded first.
TOKEN_HELPER = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
s = ctypes.c_void_p()
pw = open(sys.argv[3], "rb").read().split(b"\n")[0]
r = lib.sotto_open(ctypes.byref(s), sys.argv[2].encode(), pw, len(pw))
if r != 0:
    sys.exit("sotto_open: %d" % r)
gen = ctypes.c_uint32()
tok = (ctypes.c_uint8 * 32)()
r = lib.client_token_get(s, ctypes.byref(gen), tok)
lib.sotto_close(s)
if r != 0:
    sys.exit("client_token_get: %d" % r)
print(bytes(tok).hex())
"""


def libsotto_path():
    """BUILD/libsotto.so; under scripts/test-valgrind SOTTO_BUILD holds wrapper scripts
    that exec BUILD/sotto, and the library is beside that."""
    lib = os.path.join(h.BUILD, "libsotto.so")
    if not os.path.exists(lib):
        with open(h.SOTTO) as f:
            m = re.search(r'(\S+)/sotto "\$@"', f.read())
        h.check(m is not None, "no libsotto.so beside %s" % h.SOTTO)
        lib = os.path.join(m.group(1), "libsotto.so")
    return lib


def token_of(user):
    lib = libsotto_path()
    env = dict(os.environ)
    needed = subprocess.run(["ldd", lib], stdout=subprocess.PIPE).stdout.decode()
    for line in needed.splitlines():
        if "libasan" in line and "=>" in line:
            env["LD_PRELOAD"] = line.split("=>")[1].split()[0]
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    r = subprocess.run([sys.executable, "-c", TOKEN_HELPER, lib, user.home, user.passfile],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=h.scaled(60))
    h.check(r.returncode == 0, "token of %s: %s" % (user.name, r.stderr.decode()))
    return bytes.fromhex(r.stdout.decode().strip())


def log_text(srv):
    with open(srv.log_path, "rb") as f:
        return f.read()


def unidentified(srv):
    return log_text(srv).count(b": unidentified")


def ok(r, what):
    h.check(r.returncode == 0, "%s: rc %d: %s" % (what, r.returncode, r.stderr.decode()))
    return r.stdout.decode()


def send(srv, a, b, text, sealed):
    """a sends text to b; sealed: whether it must go on an unidentified connection."""
    before = unidentified(srv)
    ok(a.run("send", b.address, text), "%s -> %s" % (a.name, b.name))
    if sealed:
        h.wait_until(lambda: unidentified(srv) > before, 10, "the sealed send of %r" % text)
    h.check(unidentified(srv) == before + (1 if sealed else 0),
            "%r: %d unidentified connections" % (text, unidentified(srv) - before))


def drain(srv, users, got, also=()):
    """The users in `also` receive, then every user with envelopes waiting, until none
    waits (a message's receipt goes back to its sender)."""
    by_name = {u.name: u for u in users}
    todo = [u.name for u in also]
    while True:
        todo += [n for n in waiting_for(srv) if n not in todo]
        if not todo:
            return
        for n in todo:
            got.setdefault(n, []).extend(by_name[n].receive())
        todo = []


def waiting_for(srv):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.dir, "sottod.db"), uri=True)
    try:
        return [r[0] for r in db.execute("SELECT DISTINCT a.name FROM envelopes e"
                                          " JOIN accounts a ON a.id = e.recipient")]
    finally:
        db.close()


def killed_mid_send(srv, a, b, text, got):
    """a's sealed send SIGKILLed once its unidentified connection is up (the server is
    stopped from then until the kill, so the answer cannot come first); a's next run
    sends it again from its outbox, under the same message id. Returns the text of the
    send that was killed before it finished. On a quiet machine a send can finish between
    two looks at the log, so it tries a few times; the log is read from where it ended
    (a look costs microseconds, not a read of the whole log)."""
    for attempt in range(12):
        with open(srv.log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            seen = b""
            p = subprocess.Popen(a.argv("send", b.address, "%s (%d)" % (text, attempt)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                def connected():
                    nonlocal seen
                    seen += log.read()
                    return b": unidentified" in seen or p.poll() is not None
                h.wait_until(connected, 20, "the unidentified connection of the send to kill",
                             interval=0.0005)
                srv.proc.send_signal(signal.SIGSTOP)
                p.send_signal(signal.SIGKILL)
                p.wait()
            finally:
                srv.proc.send_signal(signal.SIGCONT)
        got.setdefault(a.name, []).extend(a.receive())      # flushes the outbox
        if p.returncode == -signal.SIGKILL:
            return "%s (%d)" % (text, attempt)
    raise AssertionError("every send finished before its kill")


def texts(events):
    return [(e["from"], e.get("body")) for e in events if e["type"] == "text"]


def group(user, *args):
    return ok(user.run("group", *args), "%s group %s" % (user.name, " ".join(args)))


def people_of(data_dir, users, tokens):
    """The analyst's view of each user: name, address, account id and keys from the
    seized accounts table, tokens from the users' stores."""
    tables = sa.load_tables(os.path.join(data_dir, "sottod.db"))
    cols, rows = tables["accounts"]
    by_name = {r[cols.index("name")]: r for r in rows}
    out = []
    for u in users:
        r = by_name[u.name]
        keys = {"identity": bytes(r[cols.index("identity_key")]),
                "device": bytes(r[cols.index("device_key")])}
        if tokens.get(u.name):
            keys["token"] = tokens[u.name]
        out.append(sa.Person(u.name, u.address, r[cols.index("id")], keys))
    return tables, out


def envelope_messages(tables, people, evening):
    """The waiting envelopes with their true senders: per recipient, in id order, the
    evening's sends to it in the order they were made."""
    cols, rows = tables["envelopes"]
    ids = {p.name: p.id for p in people}
    msgs = []
    for rcpt, sends in evening.items():
        mine = sorted((r[cols.index("id")], i) for i, r in enumerate(rows)
                      if r[cols.index("recipient")] == ids[rcpt])
        h.check(len(mine) == len(sends), "%s: %d envelopes wait, %d sent" % (
            rcpt, len(mine), len(sends)))
        for (_, ri), (sender, _) in zip(mine, sends):
            msgs.append(("envelopes", ri, ids[sender], ids[rcpt]))
    h.check(len(msgs) == len(rows), "%d envelopes wait, %d accounted for" % (
        len(rows), len(msgs)))
    return msgs


def group_messages(tables, people, senders):
    """The waiting application entries of the group log (kind 3) with their senders."""
    cols, rows = tables["group_log"]
    ids = {p.name: p.id for p in people}
    apps = sorted((r[cols.index("seq")], i) for i, r in enumerate(rows)
                  if r[cols.index("kind")] == 3)
    h.check(len(apps) == len(senders), "%d group messages wait, %d sent" % (
        len(apps), len(senders)))
    return [("group_log", ri, ids[s], None) for (_, ri), s in zip(apps, senders)]


def analyse(root, srv, users, tokens, messages_of, t0):
    data, log_path = sa.seize(srv.dir, srv.log_path, os.path.join(root, "seized"))
    tables, people = people_of(data, users, tokens)
    messages = messages_of(tables, people)
    byte_hits = sa.scan_bytes(data, log_path, people, CLIENT_IP)
    cell_hits = sa.check_columns(tables, people)
    links, recipients = sa.analyse(tables, sa.load_log(log_path), messages, people,
                                   t0 - 60000, int(time.time() * 1000) + 60000)
    return people, messages, byte_hits, cell_hits, links, recipients


def report(byte_hits, cell_hits, links, recipients):
    for x in sorted(set(byte_hits)):
        print("# identifier in the files: %s's %s in %s" % x)
    for x in cell_hits:
        print("# identifier outside its allowed cells: %s's %s in %s" % x)
    for k, hits, named, by_bytes in links:
        print("# link: %s: the sender for %d of the %d messages it names one for%s" % (
            k, hits, named, ", by its identifiers for %d" % by_bytes if by_bytes else ""))
    for k, n in sorted(recipients.items()):
        print("# recipient: %s names it for %d envelopes" % (k, n))


def test_a_day_of_traffic_leaves_no_sender(root, servers):
    t0 = int(time.time() * 1000)
    srv = h.Server(root, host=SERVER_HOST)
    servers.append(srv)
    users = [h.User(root, n, srv) for n in NAMES]
    got = {}
    n = len(users)
    # Morning: first contacts around the ring (identified), answers (sealed: the first
    # message carried the sender's token), follow-ups (sealed: the answer carried it back).
    for i in range(n):
        send(srv, users[i], users[(i + 1) % n], "morning %d" % i, False)
    drain(srv, users, got)
    for i in range(n):
        send(srv, users[(i + 1) % n], users[i], "reply %d" % i, True)
    drain(srv, users, got)
    # A group: created with three members, messages, a fourth added.
    g = [users[i] for i in GROUP_MEMBERS]
    gid = group(g[0], "create", "Allotment", *[u.address for u in g[1:4]]).strip()
    drain(srv, users, got, g[1:4])
    group(g[1], "send", gid, "group one")
    group(g[2], "send", gid, "group two")
    group(g[0], "add", gid, g[4].address)
    drain(srv, users, got, g)
    group(g[4], "send", gid, "group three")
    # The server restarts in the middle of the day.
    srv.restart()
    drain(srv, users, got, g)
    # Afternoon: follow-ups, one of them killed mid-send and sent again.
    for i in range(n):
        if i == 5:
            killed = killed_mid_send(srv, users[i], users[i + 1], "afternoon %d" % i, got)
        else:
            send(srv, users[i], users[(i + 1) % n], "afternoon %d" % i, True)
    drain(srv, users, got)
    for i in range(n):
        want = (users[i].address, killed if i == 5 else "afternoon %d" % i)
        c = texts(got[users[(i + 1) % n].name]).count(want)
        h.check(c == 1, "%r received %d times" % (want, c))
    # Evening: the sleepers are offline; each gets two sealed messages from its ring
    # neighbours and one first contact (identified); two group messages wait.
    evening = {}
    for w in WRITERS:
        for s in ((w - 1) % n, (w + 1) % n):
            send(srv, users[w], users[s], "evening %d to %d" % (w, s), True)
            evening.setdefault(users[s].name, []).append(
                (users[w].name, "evening %d to %d" % (w, s)))
    for w in WRITERS:
        s = (w + 3) % n
        send(srv, users[w], users[s], "first contact %d to %d" % (w, s), False)
        evening[users[s].name].append((users[w].name, "first contact %d to %d" % (w, s)))
    group_senders = [users[1].name, users[3].name]
    group(users[1], "send", gid, "evening group 1")
    group(users[3], "send", gid, "evening group 3")
    # Seized: the power is pulled.
    srv.stop(signal.SIGKILL)
    tokens = {u.name: token_of(u) for u in users}
    people, messages, byte_hits, cell_hits, links, recipients = analyse(
        root, srv, users, tokens,
        lambda t, p: envelope_messages(t, p, evening) +
        group_messages(t, p, group_senders), t0)
    report(byte_hits, cell_hits, links, recipients)
    bad = sa.bad_byte_hits(byte_hits)
    h.check(not bad, "identifiers where THREAT_MODEL.md allows none: %r" % bad)
    h.check(not cell_hits, "identifiers in other cells: %r" % cell_hits)
    env_links = [l for l in links if l[0].startswith("envelopes.")]
    h.check(not env_links, "sender-to-envelope links: %r" % env_links)
    # Group messages go identified on this code (GROUP_SEND on the sender's login): the
    # running server knows the sender, but nothing of it is written down. The group token
    # (issue 15, branch grouptoken) must keep this so.
    grp_links = [l for l in links if l[0].startswith("group_log.")]
    h.check(not grp_links, "sender-to-group-message links: %r" % grp_links)
    # The analysis sees what is there: every envelope's recipient.
    n_env = sum(1 for m in messages if m[0] == "envelopes")
    h.check(recipients.get("envelopes.recipient = accounts.id") == n_env,
            "the recipient join found %r of %d" % (recipients, n_env))
    # The ground truth: the sleepers' clients read the evening's messages from their
    # senders, in the order the analysis assumed.
    srv.start()
    for name, sends in evening.items():
        u = next(x for x in users if x.name == name)
        want = [(users[NAMES.index(s)].address, t) for s, t in sends]
        have = [x for x in texts(u.receive()) if x[1] and not x[1].startswith("evening group")]
        h.check(have == want, "%s read %r, not %r" % (name, have, want))


def test_negative_control_debug_log_links(root, servers):
    """The analysis finds what is there: at log_level = debug, first contacts (sent
    identified) are tied to their senders through the log."""
    t0 = int(time.time() * 1000)
    srv = h.Server(root, host=SERVER_HOST, conf="log_level = debug\n")
    servers.append(srv)
    users = [h.User(root, n, srv) for n in NAMES[:4]]
    evening = {}
    for w, s in ((1, 0), (3, 2), (1, 2), (3, 0), (2, 0)):
        send(srv, users[w], users[s], "first %d to %d" % (w, s), False)
        evening.setdefault(users[s].name, []).append((users[w].name, None))
    srv.stop(signal.SIGKILL)
    tokens = {u.name: token_of(u) for u in users}
    people, messages, byte_hits, cell_hits, links, recipients = analyse(
        root, srv, users, tokens, lambda t, p: envelope_messages(t, p, evening), t0)
    report(byte_hits, cell_hits, links, recipients)
    in_log = {(x[0], x[1]) for x in byte_hits if x[2] == "sottod.log"}
    for u in users:
        h.check((u.name, "name") in in_log and (u.name, "device") in in_log,
                "the debug log does not name %s and its device key: %r" % (u.name, in_log))
    h.check(("*", "client IP") in in_log, "the debug log has no client address")
    h.check(any(l[0].startswith("envelopes.") and l[0].endswith(" log.ts") for l in links),
            "no link through the debug log: %r" % links)


if __name__ == "__main__":
    h.run_tests([test_a_day_of_traffic_leaves_no_sender, test_negative_control_debug_log_links])
