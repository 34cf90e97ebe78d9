#!/usr/bin/env python3
"""Each received mail is stored once (issue 14): alice sends bob three mails over SMTP,
one of 1 MiB (libsotto splits it; the bridge hands it over whole). bob's IMAP shows each
once, whole, and `history` one entry per mail, the same on both sides; bob's store file
holds the big mail once, not twice. UIDs, UIDVALIDITY and flags stay across bridge
restarts. Mail that `sotto receive` takes in while the bridge runs is in INBOX at once:
no rescan, no poke.
"""
import json
import os
import smtplib
import sqlite3

import bridge_harness as BH
from bridge_harness import H
from bridge_harness import check

BIG = 1024 * 1024


def mail(subject, mid, body):
    return (b"From: alice@localhost\r\nTo: bob@localhost\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + mid + b"@localhost>\r\n\r\n" + body)


def big_body():
    # lines of random-looking text, so the store's pages cannot share it
    lines = []
    n = 0
    while n < BIG:
        line = os.urandom(38).hex().encode() + b"\r\n"
        lines.append(line)
        n += len(line)
    return b"".join(lines)      # whole lines: SMTP would end a cut one with CRLF


MAILS = {}


def setup(root):
    return BH.World(root, names=("alice", "bob"))


def smtp(w, who):
    s = smtplib.SMTP("127.0.0.1", w.b[who].smtp_port, timeout=H.scaled(300))
    s.login(w.users[who].address, w.b[who].password)
    return s


def history(w, who):
    r = w.users[who].run("history", "--json", "--limit", "100000")
    check(r.returncode == 0, "history: %s" % r.stderr.decode())
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


def inbox(M):
    """UID -> Message-ID of every mail in INBOX."""
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, "ALL")
    out = {}
    for uid in data[0].split():
        typ, got = M.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        out[int(uid)] = [x[1] for x in got if isinstance(x, tuple)][0].strip()
    return out


def three_mails_each_once_in_inbox_and_history(w):
    MAILS["one"] = mail(b"one", b"once-1", b"first\r\n")
    MAILS["big"] = mail(b"big one", b"once-2", big_body())
    MAILS["three"] = mail(b"three", b"once-3", b"third\r\n")
    with smtp(w, "alice") as s:
        for k in ("one", "big", "three"):
            check(s.sendmail("alice@localhost", ["bob@localhost"], MAILS[k]) == {}, k)
    M = w.b["bob"].imap()
    for k, mid in (("one", "once-1"), ("big", "once-2"), ("three", "once-3")):
        uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<%s@localhost>")' % mid)
        check(len(uids) == 1, "%s in bob's INBOX: %r" % (k, uids))
        check(BH.fetch_raw(M, "INBOX", uids[0]) == MAILS[k], "%s differs" % k)
    check(len(inbox(M)) == 3, "bob's INBOX: %r" % inbox(M))
    M.logout()
    # one history entry per mail on each side, whole: the 1 MiB one is not 17 parts
    for who, direction in (("bob", "in"), ("alice", "out")):
        mails = [m for m in history(w, who) if m["type"] == "mail"]
        check(len(mails) == 3, "%s's history: %d mail entries" % (who, len(mails)))
        check(sorted(m["size"] for m in mails) ==
              sorted(len(v) for v in MAILS.values()),
              "%s's sizes: %r" % (who, [m["size"] for m in mails]))
        check(all(m["direction"] == direction and m["parts"] == 1 for m in mails),
              "%s: %r" % (who, [(m["direction"], m["parts"]) for m in mails]))
    # the same id on both sides: bob's entry is alice's mail
    ids_a = set(m["id"] for m in history(w, "alice") if m["type"] == "mail")
    ids_b = set(m["id"] for m in history(w, "bob") if m["type"] == "mail")
    check(ids_a == ids_b, "ids differ: %r %r" % (ids_a, ids_b))


def big_mail_stored_once_in_the_file(w):
    """The store is encrypted, so the pages in use tell: bob's store holds about one copy
    of the 1 MiB mail, not two (history and INBOX before issue 14). Pages its parts used
    while they waited are free (and zeroed: secure_delete)."""
    w.b["bob"].stop()           # checkpointed: everything is in the main file
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(w.users["bob"].home, "store.db"),
                         uri=True)
    pages, free, size = (db.execute("PRAGMA %s" % p).fetchone()[0]
                         for p in ("page_count", "freelist_count", "page_size"))
    db.close()
    w.b["bob"].start()
    used = (pages - free) * size
    check(BIG < used < 2 * BIG, "bob's store uses %d bytes for a %d-byte mail" % (used, BIG))


def uids_stable_across_restarts(w):
    M = w.b["bob"].imap()
    typ, st1 = M.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")
    before = inbox(M)
    uid_big = [u for u, mid in before.items() if b"once-2" in mid][0]
    check(M.uid("STORE", str(uid_big), "+FLAGS", "(\\Flagged)")[0] == "OK", "store")
    M.logout()
    for _ in range(2):
        w.b["bob"].stop()
        w.b["bob"].start()
        M = w.b["bob"].imap()
        typ, st2 = M.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")
        check(st1 == st2, "%r != %r" % (st1, st2))
        check(inbox(M) == before, "%r != %r" % (inbox(M), before))
        typ, data = M.uid("FETCH", str(uid_big), "(FLAGS)")
        check(b"\\Flagged" in data[0], data)
        M.logout()


def mail_received_elsewhere_shows_at_once(w):
    """bob's bridge runs; `sotto receive` (another process, which the server pushes to as
    the newest connection) takes a mail in. The bridge neither reads the history nor is
    told: INBOX shows it because libsotto filed it there."""
    w.b["bob"].stop()
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", ["bob@localhost"],
                         mail(b"elsewhere", b"once-4", b"hi\r\n")) == {}, "refused")
    r = w.users["bob"].run("receive", "--json", "--wait", "5")
    got = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
    check(r.returncode == 0 and [m["subject"] for m in got if m["type"] == "mail"] ==
          ["elsewhere"], "receive: %r" % r.stdout[:300])
    w.b["bob"].start()
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<once-4@localhost>")')
    check(len(uids) == 1, "once-4: %r" % uids)
    check(len(inbox(M)) == 4, "bob's INBOX: %r" % inbox(M))
    M.logout()
    mails = [m for m in history(w, "bob") if m["type"] == "mail"]
    check(len(mails) == 4, "bob's history: %d mail entries" % len(mails))


def deleting_a_mail_deletes_it(w):
    """Moved to Trash it stays one mail; expunged from Trash it leaves the history."""
    M = w.b["bob"].imap()
    M.select("INBOX")
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<once-1@localhost>")')
    typ, data = M.uid("COPY", uids[0], "Trash")
    check(typ == "OK", data)
    M.uid("STORE", uids[0], "+FLAGS", "(\\Deleted)")
    M.expunge()
    check(len([m for m in history(w, "bob") if m["type"] == "mail"]) == 4, "history")
    t = BH.wait_for(M, "Trash", '(HEADER Message-ID "<once-1@localhost>")')
    check(len(t) == 1 and BH.fetch_raw(M, "Trash", t[0]) == MAILS["one"], "Trash: %r" % t)
    M.uid("STORE", t[0], "+FLAGS", "(\\Deleted)")
    M.expunge()
    M.logout()
    mails = [m for m in history(w, "bob") if m["type"] == "mail"]
    check(len(mails) == 3, "bob's history after the delete: %d" % len(mails))


BH.run_checks(setup, [
    three_mails_each_once_in_inbox_and_history,
    big_mail_stored_once_in_the_file,
    uids_stable_across_restarts,
    mail_received_elsewhere_shows_at_once,
    deleting_a_mail_deletes_it,
    BH.bridges_exit_cleanly,
])
