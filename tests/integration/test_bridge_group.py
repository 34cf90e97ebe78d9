#!/usr/bin/env python3
"""Groups in mail (docs/PROTOCOL.md 14.5, docs/MAILCLIENT.md "Groups"): real sottod, real
`sotto` homes and `sotto bridge` processes. A group's address in `sotto group list`; a
mail to it from smtplib reaches every member's IMAP INBOX with List-Id, List-Post,
X-Sotto-Group and the thread's headers; a member's `sotto group send` text appears as a
mail in the same thread; a reply stays in it; RCPT to an unknown group, to a group one is
not in and to a group one was removed from is refused with 550; a mail to a group and a
1:1 recipient (Bcc) reaches both; a 1:1 mail cannot claim the group; a member inside
`sotto daemon` reads and writes the group; a removed member's bridge gets nothing sent
later; each change to the group (an invitation, a removal) is a short mail in the thread;
a rename keeps the address."""
import email
import email.policy
import imaplib
import json
import os
import signal
import smtplib
import socket
import subprocess

import bridge_harness as BH
from bridge_harness import H
from bridge_harness import check

STATE = {}


def smtp(w, who):
    s = smtplib.SMTP("127.0.0.1", w.b[who].smtp_port, timeout=H.scaled(120))
    s.login(w.users[who].address, w.b[who].password)
    return s


def run(user, *args):
    r = user.run(*args)
    check(r.returncode == 0, "%s %s: rc %d: %s" % (user.name, " ".join(args), r.returncode,
                                                   r.stderr.decode()))
    return r.stdout.decode()


def groups(user):
    return {g["id"]: g for g in json.loads(run(user, "group", "list", "--json"))}


def fetch_one(w, who, criteria, timeout=60):
    M = w.b[who].imap()
    try:
        uids = BH.wait_for(M, "INBOX", criteria, timeout)
        check(len(uids) == 1, "%s's INBOX for %s: %r" % (who, criteria, uids))
        return BH.fetch_raw(M, "INBOX", uids[0])
    finally:
        M.logout()


def count(w, who, criteria):
    M = w.b[who].imap()
    try:
        M.select("INBOX")
        typ, data = M.uid("SEARCH", None, criteria)
        return len(data[0].split()) if typ == "OK" and data[0] else 0
    finally:
        M.logout()


def header(raw, name):
    return email.message_from_bytes(raw, policy=email.policy.compat32).get_all(name) or []


def setup(root):
    w = BH.World(root, names=("alice", "bob", "carol", "dave"))
    w.root = root
    w.users["erin"] = H.User(root, "erin", w.srv)     # runs `sotto daemon`, not a bridge
    return w


def group_address_listed(w):
    alice = w.users["alice"]
    gid = run(alice, "group", "create", "Team", w.users["bob"].address,
              w.users["carol"].address).strip()
    addr = "group+%s@localhost" % gid
    STATE.update(gid=gid, addr=addr, root="<%s>" % addr)
    g = groups(alice)[gid]
    check(g["address"] == addr and g["name"] == "Team", g)
    check(("%s  Team  <%s>  3 members" % (gid, addr)) in run(alice, "group", "list"),
          run(alice, "group", "list"))
    # the members' bridges take the invitation in; each member lists the same address
    for who in ("bob", "carol"):
        H.wait_until(lambda: gid in groups(w.users[who]), H.scaled(30),
                     "%s joined" % who)
        check(groups(w.users[who])[gid]["address"] == addr, groups(w.users[who]))


def mail_to_group_reaches_every_member(w):
    addr, gid, root = STATE["addr"], STATE["gid"], STATE["root"]
    mail = ("From: Alice <alice@localhost>\r\nTo: Team <%s>\r\nSubject: Agenda\r\n"
            "Message-ID: <agenda-1@localhost>\r\nList-Id: planted <x.example>\r\n"
            "X-Sotto-Group: 00\r\n\r\nItem one.\r\n" % addr).encode()
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", [addr], mail) == {}, "refused")
    for who in ("bob", "carol"):
        raw = fetch_one(w, who, '(HEADER Message-ID "<agenda-1@localhost>")')
        check(header(raw, "List-Id") == ["Team <group+%s.localhost>" % gid], raw[:600])
        check(header(raw, "List-Post") == ["<mailto:%s>" % addr], raw[:600])
        check(header(raw, "X-Sotto-Group") == [gid], raw[:600])
        check(header(raw, "In-Reply-To") == [root] and header(raw, "References") == [root],
              raw[:600])
        check(header(raw, "From") == ["Alice <alice@localhost>"], raw[:600])
        check(raw.endswith(b"\r\n\r\nItem one.\r\n"), raw)
    # the sender's copy is in Sent, as sent, and not in its INBOX
    A = w.b["alice"].imap()
    check(len(BH.wait_for(A, "Sent", '(HEADER Message-ID "<agenda-1@localhost>")', 5)) == 1,
          "alice's Sent")
    A.logout()
    check(count(w, "alice", '(HEADER Message-ID "<agenda-1@localhost>")') == 0, "own INBOX")
    # one group message (its parts) in the members' history, not one per member
    hist = [e for e in w.users["bob"].history()
            if e.get("group") == gid and e.get("type") == "mail"]
    check(len(hist) == 1 and hist[0]["peer"] == "alice@localhost", hist)


def group_text_appears_as_mail(w):
    addr, gid, root = STATE["addr"], STATE["gid"], STATE["root"]
    text = "Lunch at noon?\nI booked a table \xe2\x98\x95 for all of us."
    mid = run(w.users["bob"], "group", "send", "Team", text).strip()
    STATE["mid"] = mid
    msgid = "<%s.%s>" % (mid, addr)
    for who in ("alice", "carol"):
        raw = fetch_one(w, who, '(HEADER Message-ID "%s")' % msgid)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        check(msg["From"] == "bob@localhost" and msg["To"] == addr, raw[:600])
        check(str(msg["Subject"]) == "[Team] Lunch at noon?", msg["Subject"])
        check(header(raw, "List-Id") == ["Team <group+%s.localhost>" % gid], raw[:600])
        check(header(raw, "X-Sotto-Group") == [gid], raw[:600])
        check(header(raw, "In-Reply-To") == [root] and header(raw, "References") == [root],
              raw[:600])
        check(msg.get_content() == text, msg.get_content())
        check(msg["Date"] is not None, raw[:600])


def reply_stays_in_thread(w):
    addr, root, mid = STATE["addr"], STATE["root"], STATE["mid"]
    parent = "<%s.%s>" % (mid, addr)
    mail = ("From: carol@localhost\r\nTo: %s\r\nSubject: Re: [Team] Lunch at noon?\r\n"
            "Message-ID: <reply-1@localhost>\r\nIn-Reply-To: %s\r\nReferences: %s %s\r\n"
            "\r\nYes please.\r\n" % (addr, parent, root, parent)).encode()
    with smtp(w, "carol") as s:
        check(s.sendmail("carol@localhost", [addr], mail) == {}, "refused")
    for who in ("alice", "bob"):
        raw = fetch_one(w, who, '(HEADER Message-ID "<reply-1@localhost>")')
        check(header(raw, "In-Reply-To") == [parent], raw[:600])
        check(header(raw, "References") == ["%s %s" % (root, parent)], raw[:600])
        check(header(raw, "X-Sotto-Group") == [STATE["gid"]], raw[:600])


def rcpt_refused(w, who, addr, code, words):
    with smtp(w, who) as s:
        s.mail(w.users[who].address)
        c, t = s.rcpt(addr)
        check(c == code and all(x in t for x in words), "%s RCPT %s: %d %r" % (who, addr, c, t))


def rcpt_to_unknown_or_foreign_group_refused(w):
    # dave is in no group: alice's group's address is refused to him, by reason
    rcpt_refused(w, "dave", STATE["addr"], 550, [b"5.1.1", b"no group of yours"])
    rcpt_refused(w, "alice", "group+00112233445566778899aabbccddeeff@localhost", 550,
                 [b"no group of yours"])
    # on another domain: outside Sotto
    rcpt_refused(w, "alice", "group+%s@other.test" % STATE["gid"], 550, [b"5.7.1"])
    # and nothing reached the members
    check(count(w, "bob", '(FROM "dave@localhost")') == 0, "dave's mail arrived")


def group_and_direct_recipients_with_bcc(w):
    addr, gid = STATE["addr"], STATE["gid"]
    mail = ("From: alice@localhost\r\nTo: %s\r\nBcc: dave@localhost\r\n"
            "Subject: mixed\r\nMessage-ID: <mixed-1@localhost>\r\n\r\nTo all, and dave.\r\n"
            % addr).encode()
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", [addr, "dave@localhost"], mail) == {}, "refused")
    for who in ("bob", "carol", "dave"):
        raw = fetch_one(w, who, '(HEADER Message-ID "<mixed-1@localhost>")')
        check(b"Bcc" not in raw and raw.endswith(b"To all, and dave.\r\n"), raw)
        # the group's copy carries the group's fields; dave's 1:1 copy does not
        check(header(raw, "X-Sotto-Group") == ([] if who == "dave" else [gid]), raw[:600])
    A = w.b["alice"].imap()
    uids = BH.wait_for(A, "Sent", '(HEADER Message-ID "<mixed-1@localhost>")', 5)
    check(len(uids) == 1 and b"Bcc: dave" in BH.fetch_raw(A, "Sent", uids[0]), "Sent")
    A.logout()


def direct_mail_cannot_claim_the_group(w):
    """A 1:1 mail naming the group in X-Sotto-Group is filed without that field."""
    mail = ("From: dave@localhost\r\nTo: bob@localhost\r\nX-Sotto-Group: %s\r\n"
            "Subject: not the group\r\nMessage-ID: <claim-1@localhost>\r\n\r\nhi\r\n"
            % STATE["gid"]).encode()
    with smtp(w, "dave") as s:
        check(s.sendmail("dave@localhost", ["bob@localhost"], mail) == {}, "refused")
    raw = fetch_one(w, "bob", '(HEADER Message-ID "<claim-1@localhost>")')
    check(raw == mail.replace(b"X-Sotto-Group: %s\r\n" % STATE["gid"].encode(), b""), raw)


def daemon_member_reads_and_writes_the_group(w):
    """Inside `sotto daemon` the bridge is send-only and files from the history that the
    daemon's connection receives."""
    addr, gid = STATE["addr"], STATE["gid"]
    erin = w.users["erin"]
    pw = run(erin, "bridge", "--show-password").strip()
    smtp_port, imap_port = H.free_port(), H.free_port()
    sock = os.path.join(w.root, "erin.sock")
    log = open(os.path.join(w.root, "erin.daemon.log"), "wb")
    p = subprocess.Popen(erin.argv("daemon", "--socket", sock, "--smtp",
                                   "127.0.0.1:%d" % smtp_port, "--imap",
                                   "127.0.0.1:%d" % imap_port),
                         stdout=subprocess.DEVNULL, stderr=log)
    try:
        H.wait_until(lambda: os.path.exists(sock), H.scaled(15), "erin's daemon")
        run(w.users["alice"], "group", "add", "Team", erin.address)
        run(w.users["bob"], "group", "send", "Team", "welcome erin")

        def imap():
            M = imaplib.IMAP4("127.0.0.1", imap_port)
            M.sock.settimeout(H.scaled(60))
            M.login(erin.address, pw)
            return M
        H.wait_until(lambda: _connects(imap_port), H.scaled(15), "erin's IMAP")
        M = imap()
        uids = BH.wait_for(M, "INBOX", '(SUBJECT "[Team] welcome erin")')
        check(len(uids) == 1, "erin's INBOX: %r" % uids)
        raw = BH.fetch_raw(M, "INBOX", uids[0])
        check(header(raw, "X-Sotto-Group") == [gid] and header(raw, "From") ==
              ["bob@localhost"], raw[:600])
        M.logout()
        s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=H.scaled(120))
        with s:
            s.login(erin.address, pw)
            mail = ("From: erin@localhost\r\nTo: %s\r\nSubject: hello\r\n"
                    "Message-ID: <erin-1@localhost>\r\n\r\nThanks.\r\n" % addr).encode()
            check(s.sendmail(erin.address, [addr], mail) == {}, "refused")
        for who in ("alice", "bob"):
            raw = fetch_one(w, who, '(HEADER Message-ID "<erin-1@localhost>")')
            check(header(raw, "X-Sotto-Group") == [gid], raw[:600])
    finally:
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=H.scaled(30)) == 0, "erin's daemon exit code")
        log.close()


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def removed_member_gets_nothing_later(w):
    addr, gid = STATE["addr"], STATE["gid"]
    alice, carol = w.users["alice"], w.users["carol"]
    run(alice, "group", "remove", "Team", carol.address)
    H.wait_until(lambda: groups(carol)[gid]["status"] == "removed", H.scaled(30),
                 "carol told of her removal")
    rcpt_refused(w, "carol", addr, 550, [b"no longer a member"])
    mail = ("From: alice@localhost\r\nTo: %s\r\nSubject: after\r\n"
            "Message-ID: <after-1@localhost>\r\n\r\nNot for carol.\r\n" % addr).encode()
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", [addr], mail) == {}, "refused")
    run(alice, "group", "send", "Team", "also not for carol")
    fetch_one(w, "bob", '(HEADER Message-ID "<after-1@localhost>")')
    fetch_one(w, "bob", '(SUBJECT "also not for carol")')
    # a later 1:1 mail reaches carol: her bridge is filing, and the group's are not there
    mark = (b"From: alice@localhost\r\nTo: carol@localhost\r\nSubject: marker\r\n"
            b"Message-ID: <marker-1@localhost>\r\n\r\nstill here\r\n")
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", ["carol@localhost"], mark) == {}, "refused")
    fetch_one(w, "carol", '(HEADER Message-ID "<marker-1@localhost>")')
    check(count(w, "carol", '(HEADER Message-ID "<after-1@localhost>")') == 0, "mail")
    check(count(w, "carol", '(SUBJECT "also not for carol")') == 0, "text")


def group_changes_appear_as_mails(w):
    """Each change to the group is a short mail in the thread, from the member who made
    it: Bob reads that Alice removed Carol, Carol that Alice removed her."""
    addr, gid, root = STATE["addr"], STATE["gid"], STATE["root"]
    want = {"bob": "alice@localhost removed carol@localhost",
            "carol": "you were removed by alice@localhost"}
    for who, text in want.items():
        raw = fetch_one(w, who, '(SUBJECT "%s")' % text)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        check(msg["From"] == "alice@localhost" and msg["To"] == addr, raw[:600])
        check(str(msg["Subject"]).startswith("[Team] " + text), msg["Subject"])
        check(header(raw, "X-Sotto-Group") == [gid], raw[:600])
        check(header(raw, "In-Reply-To") == [root], raw[:600])
        check(msg.get_content().startswith(text), msg.get_content())
    # one mail per change: the removal is filed once
    check(count(w, "bob", '(SUBJECT "removed carol@localhost")') == 1, "filed twice")
    # the invitation too, in the thread
    fetch_one(w, "bob", '(SUBJECT "you were added by alice@localhost")')


def rename_keeps_the_address(w):
    addr, gid = STATE["addr"], STATE["gid"]
    run(w.users["alice"], "group", "rename", "Team", "Crew")
    H.wait_until(lambda: groups(w.users["bob"])[gid]["name"] == "Crew", H.scaled(30),
                 "bob sees the new name")
    check(groups(w.users["bob"])[gid]["address"] == addr, groups(w.users["bob"]))
    run(w.users["alice"], "group", "send", "Crew", "renamed")
    raw = fetch_one(w, "bob", '(SUBJECT "[Crew] renamed")')
    check(header(raw, "List-Id") == ["Crew <group+%s.localhost>" % gid], raw[:600])
    check(header(raw, "To") == [addr], raw[:600])


def bridges_exit_cleanly(w):
    BH.bridges_exit_cleanly(w)


BH.run_checks(setup, [
    group_address_listed,
    mail_to_group_reaches_every_member,
    group_text_appears_as_mail,
    reply_stays_in_thread,
    rcpt_to_unknown_or_foreign_group_refused,
    group_and_direct_recipients_with_bcc,
    direct_mail_cannot_claim_the_group,
    daemon_member_reads_and_writes_the_group,
    removed_member_gets_nothing_later,
    group_changes_appear_as_mails,
    rename_keeps_the_address,
    bridges_exit_cleanly,
])
