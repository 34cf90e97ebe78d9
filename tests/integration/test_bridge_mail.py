#!/usr/bin/env python3
"""`sotto bridge` end to end: alice writes with python smtplib and curl through her bridge,
the mail travels end-to-end encrypted through a real sottod, and bob reads it with
python imaplib and curl through his. Byte-identical headers and body, Bcc, Sent, a mail
of nearly 25 MiB with a 10 MiB attachment, one over the cap refused (552), IDLE, refusal
of recipients outside Sotto, a bridge restart.
"""
import hashlib
import json
import os
import smtplib
import socket
import subprocess
import time
from email.message import EmailMessage

import bridge_harness as BH
from bridge_harness import H
from bridge_harness import check

MAIL = (b"From: Alice <alice@localhost>\r\n"
        b"To: Bob <bob@localhost>\r\n"
        b"Subject: Lunch on Friday\r\n"
        b"Date: Sun, 29 Nov 2026 12:00:00 +0000\r\n"
        b"Message-ID: <lunch-1@localhost>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"X-Odd-Header:   spaces   kept  \r\n"
        b"\r\n"
        b"Hi Bob,\r\n"
        b".a line that starts with a dot\r\n"
        b"\r\n"
        b"caf\xc3\xa9 at noon? \xe2\x98\x95\r\n")


def smtp(w, who):
    s = smtplib.SMTP("127.0.0.1", w.b[who].smtp_port, timeout=H.scaled(300))
    s.login(w.users[who].address, w.b[who].password)
    return s


def setup(root):
    return BH.World(root)


def smtplib_to_imaplib_byte_identical(w):
    with smtp(w, "alice") as s:
        refused = s.sendmail("alice@localhost", ["bob@localhost"], MAIL)
    check(refused == {}, refused)
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<lunch-1@localhost>")')
    check(len(uids) == 1, "bob's INBOX: %r" % uids)
    raw = BH.fetch_raw(M, "INBOX", uids[0])
    check(raw == MAIL, "bob got %r" % raw[:300])
    typ, data = M.uid("FETCH", uids[0], "(FLAGS)")
    check(b"\\Seen" not in data[0], data)
    M.logout()
    # alice's Sent has it too, already seen
    A = w.b["alice"].imap()
    uids = BH.wait_for(A, "Sent", '(HEADER Message-ID "<lunch-1@localhost>")', timeout=5)
    check(len(uids) == 1, "alice's Sent: %r" % uids)
    check(BH.fetch_raw(A, "Sent", uids[0]) == MAIL, "Sent differs")
    typ, data = A.uid("FETCH", uids[0], "(FLAGS)")
    check(b"\\Seen" in data[0], data)
    A.logout()


def bcc_gets_a_copy_that_does_not_name_it(w):
    mail = (b"From: alice@localhost\r\nTo: bob@localhost\r\nBcc: carol@localhost\r\n"
            b"Subject: secret plan\r\nMessage-ID: <bcc-1@localhost>\r\n\r\nShh.\r\n")
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", ["bob@localhost", "carol@localhost"], mail) == {},
              "refused")
    stripped = mail.replace(b"Bcc: carol@localhost\r\n", b"")
    for who in ("bob", "carol"):
        M = w.b[who].imap()
        uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<bcc-1@localhost>")')
        check(len(uids) == 1, "%s: %r" % (who, uids))
        raw = BH.fetch_raw(M, "INBOX", uids[0])
        check(raw == stripped, "%s got %r" % (who, raw))
        M.logout()
    A = w.b["alice"].imap()
    uids = BH.wait_for(A, "Sent", '(HEADER Message-ID "<bcc-1@localhost>")', timeout=5)
    check(len(uids) == 1 and BH.fetch_raw(A, "Sent", uids[0]) == mail,
          "Sent keeps the Bcc line")
    A.logout()


def curl_send_and_read(w):
    path = os.path.join(w.root, "curl-mail.txt")
    body = ("From: alice@localhost\nTo: bob@localhost\nSubject: sent with curl\n"
            "Message-ID: <curl-1@localhost>\n\nHello from curl.\n")
    with open(path, "w") as f:
        f.write(body)
    r = subprocess.run(["curl", "-sS", "--max-time", "%d" % H.scaled(60),
                        "smtp://127.0.0.1:%d" % w.b["alice"].smtp_port,
                        "--mail-from", "alice@localhost", "--mail-rcpt", "bob@localhost",
                        "--user", "alice@localhost:" + w.b["alice"].password,
                        "--crlf", "--upload-file", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    check(r.returncode == 0, "curl smtp: %s" % r.stderr.decode())
    bob = "bob@localhost:" + w.b["bob"].password
    url = "imap://127.0.0.1:%d/INBOX" % w.b["bob"].imap_port
    deadline = time.time() + H.scaled(60)
    uid = None
    while time.time() < deadline and uid is None:
        r = subprocess.run(["curl", "-sS", "--max-time", "%d" % H.scaled(30), "--user", bob, url,
                            "-X", 'UID SEARCH SUBJECT "sent with curl"'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 0, "curl imap search: %s" % r.stderr.decode())
        words = r.stdout.decode().split()
        if len(words) > 2:
            uid = words[2]
        else:
            time.sleep(0.3)
    check(uid is not None, "curl never found the mail")
    r = subprocess.run(["curl", "-sS", "--max-time", "%d" % H.scaled(30), "--user", bob,
                        url + ";UID=" + uid], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0, "curl imap fetch: %s" % r.stderr.decode())
    # --crlf: curl turns the file's LF into CRLF, as SMTP wants
    check(r.stdout == body.replace("\n", "\r\n").encode(), "curl got %r" % r.stdout)
    r = subprocess.run(["curl", "-sS", "--max-time", "%d" % H.scaled(30), "--user", bob,
                        "imap://127.0.0.1:%d/" % w.b["bob"].imap_port],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0 and b'"INBOX"' in r.stdout and b'"Sent"' in r.stdout
          and b'"Trash"' in r.stdout, "curl list: %r" % r.stdout)


CAP = 25 * 1024 * 1024          # the bridge's largest mail by default (issue 5)


def largest_mail_with_10_mib_attachment_survives(w):
    """A mail just under the 25 MiB cap, carrying a 10 MiB attachment and a second one that
    fills it up, arrives byte for byte (about 430 parts, one mail row in bob's store)."""
    blob = os.urandom(10 * 1024 * 1024)

    def build(fill):
        msg = EmailMessage()
        msg["From"] = "alice@localhost"
        msg["To"] = "bob@localhost"
        msg["Subject"] = "the big file"
        msg["Message-ID"] = "<big-1@localhost>"
        msg.set_content("The files are attached.\n")
        msg.add_attachment(blob, maintype="application", subtype="octet-stream",
                           filename="blob.bin")
        if fill:
            msg.add_attachment(fill, maintype="application", subtype="octet-stream",
                               filename="fill.bin")
        return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))

    # base64 takes 57 bytes to a line of 76 characters and CRLF
    room = CAP - len(build(b"")) - 4096
    fill = os.urandom(room // 78 * 57)
    raw = build(fill)
    check(CAP - 64 * 1024 < len(raw) <= CAP, "the mail is %d bytes" % len(raw))
    t = time.time()
    with smtp(w, "alice") as s:
        check(s.sendmail("alice@localhost", ["bob@localhost"], raw) == {}, "refused")
    sent_in = time.time() - t
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<big-1@localhost>")', timeout=300)
    check(len(uids) == 1, "bob's INBOX: %r" % uids)
    typ, data = M.uid("FETCH", uids[0], "(RFC822.SIZE)")
    check(b"RFC822.SIZE %d" % len(raw) in data[0], data)
    got = BH.fetch_raw(M, "INBOX", uids[0])
    M.logout()
    check(got == raw, "the mail differs (%d vs %d bytes)" % (len(got), len(raw)))
    import email
    from email import policy
    parsed = email.message_from_bytes(got, policy=policy.default)
    att = [p.get_content() for p in parsed.iter_attachments()]
    check(len(att) == 2 and hashlib.sha256(att[0]).digest() == hashlib.sha256(blob).digest()
          and att[1] == fill, "attachments differ")
    print("     | largest mail: %d bytes sent in %.1f s" % (len(raw), sent_in))


def _history(w, who):
    r = w.users[who].run("history", "--json", "--limit", "100000")
    check(r.returncode == 0, "history: %s" % r.stderr.decode())
    return [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]


def non_sotto_recipient_refused_nothing_sent(w):
    before_hist = len(_history(w, "alice"))
    M = w.b["bob"].imap()
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, "ALL")
    before_bob = len(data[0].split())
    A = w.b["alice"].imap()
    A.select("Sent")
    typ, data = A.uid("SEARCH", None, "ALL")
    before_sent = len(data[0].split())
    mail = (b"From: alice@localhost\r\nTo: someone@example.com\r\nSubject: leak?\r\n\r\n"
            b"must never leave in the clear\r\n")
    for rcpt in ("someone@example.com", "dave@other.test"):
        with smtp(w, "alice") as s:
            try:
                s.sendmail("alice@localhost", [rcpt], mail)
                check(False, "%s was accepted" % rcpt)
            except smtplib.SMTPRecipientsRefused as e:
                code, text = e.recipients[rcpt]
                check(code == 550 and b"Sotto" in text, "%s: %r" % (rcpt, e.recipients))
    # a Sotto recipient with an outsider: the outsider is refused, bob alone gets it
    with smtp(w, "alice") as s:
        refused = s.sendmail("alice@localhost", ["someone@example.com", "bob@localhost"],
                             mail.replace(b"leak?", b"mixed"))
        check(list(refused) == ["someone@example.com"] and
              refused["someone@example.com"][0] == 550, refused)
    H.wait_until(lambda: len(_history(w, "alice")) > before_hist, 10,
                 "the mixed mail in alice's history")
    uids = BH.wait_for(M, "INBOX", "(SUBJECT mixed)")
    check(len(uids) == 1, "bob: %r" % uids)
    typ, data = M.uid("SEARCH", None, "ALL")
    check(len(data[0].split()) == before_bob + 1, "bob got more than the mixed mail")
    typ, data = M.uid("SEARCH", None, "(SUBJECT leak?)")
    check(data[0] == b"", "leak arrived: %r" % data)
    A.select("Sent")
    typ, data = A.uid("SEARCH", None, "ALL")
    check(len(data[0].split()) == before_sent + 1, "Sent: %r" % data)
    M.logout()
    A.logout()
    # and nothing was queued for later either
    peers = set(m["peer"] for m in _history(w, "alice"))
    check(peers <= {"bob@localhost", "carol@localhost"}, "alice wrote to %r" % peers)


def unknown_sotto_user_refused_at_rcpt(w):
    """A user of our own domain the server does not know: 550 5.1.1 at RCPT, saying so;
    the mail goes to the recipients that were accepted, and nothing to the unknown one."""
    with smtp(w, "alice") as s:
        try:
            s.sendmail("alice@localhost", ["nobody@localhost"],
                       b"Subject: to nobody\r\n\r\nhello\r\n")
            check(False, "accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@localhost"]
            check(code == 550 and b"5.1.1" in text and b"no such user" in text, e.recipients)
    mail = (b"From: alice@localhost\r\nTo: bob@localhost, nobody@localhost, carol@localhost\r\n"
            b"Subject: rcpt one by one\r\nMessage-ID: <rcpt-1@localhost>\r\n\r\nhi all\r\n")
    with smtp(w, "alice") as s:
        code, text = s.mail("alice@localhost")
        check(code == 250, text)
        code, text = s.rcpt("bob@localhost")
        check(code == 250, text)
        code, text = s.rcpt("Nobody@localhost")
        check(code == 550 and b"5.1.1 <Nobody@localhost>" in text and
              b"no such user on this Sotto server" in text, (code, text))
        code, text = s.rcpt("carol@localhost")
        check(code == 250, text)
        code, text = s.data(mail)
        check(code == 250 and b"2 recipients" in text, (code, text))
    for who in ("bob", "carol"):
        M = w.b[who].imap()
        uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<rcpt-1@localhost>")')
        check(len(uids) == 1 and BH.fetch_raw(M, "INBOX", uids[0]) == mail,
              "%s: %r" % (who, uids))
        M.logout()
    peers = set(m["peer"] for m in _history(w, "alice"))
    check("nobody@localhost" not in peers, "alice wrote to %r" % peers)


def same_mail_twice_is_filed_once(w):
    """A mail submitted twice (a mail program retrying) has the same id for bob, whose
    bridge files it once; the same body under another Message-ID is another mail."""
    mail = (b"From: alice@localhost\r\nTo: bob@localhost\r\nSubject: twice\r\n"
            b"Message-ID: <twice-1@localhost>\r\n\r\nthe very same bytes\r\n")
    other = mail.replace(b"<twice-1@", b"<twice-2@")
    before = len(_history(w, "alice"))
    with smtp(w, "alice") as s:
        for m in (mail, mail, other):
            check(s.sendmail("alice@localhost", ["bob@localhost"], m) == {}, "refused")
    # all three were sent: it is bob's bridge that files the repeat once
    check(len(_history(w, "alice")) - before in (2, 3), "alice sent %d" %
          (len(_history(w, "alice")) - before))
    M = w.b["bob"].imap()
    check(len(BH.wait_for(M, "INBOX", '(HEADER Message-ID "<twice-2@localhost>")')) == 1,
          "the second mail did not arrive")
    time.sleep(1.5)         # anything filed late would be there by now
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, '(HEADER Message-ID "<twice-1@localhost>")')
    check(len(data[0].split()) == 1, "twice-1 in bob's INBOX: %r" % data)
    typ, data = M.uid("SEARCH", None, "(SUBJECT twice)")
    check(len(data[0].split()) == 2, "bob's INBOX: %r" % data)
    M.logout()


def unchecked_recipient_is_temporary(w):
    """With the server unreachable, a recipient not checked lately is 451: never 250
    unverified, never 550 for a user who may exist."""
    w.srv.stop()
    try:
        with smtp(w, "alice") as s:
            code, text = s.mail("alice@localhost")
            check(code == 250, text)
            t = time.time()
            code, text = s.rcpt("dave@localhost")
            check(code == 451 and b"4.4.3" in text, (code, text))
            check(time.time() - t < H.scaled(30), "took %.1f s" % (time.time() - t))
    finally:
        w.srv.start()
    # and once it is back, the same RCPT is checked again
    deadline = time.time() + H.scaled(30)
    while True:
        with smtp(w, "alice") as s:
            s.mail("alice@localhost")
            code, text = s.rcpt("dave@localhost")
        if code != 451 or time.time() > deadline:
            break
        time.sleep(0.5)
    check(code == 550 and b"no such user" in text, (code, text))


def wrong_password_and_sender_refused(w):
    s = smtplib.SMTP("127.0.0.1", w.b["alice"].smtp_port, timeout=H.scaled(30))
    try:
        s.login("alice@localhost", "not-the-password")
        check(False, "wrong password accepted")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, e)
    s.close()
    with smtp(w, "alice") as s:
        try:
            s.sendmail("bob@localhost", ["bob@localhost"], b"Subject: forged\r\n\r\nx\r\n")
            check(False, "forged sender accepted")
        except smtplib.SMTPSenderRefused as e:
            check(e.smtp_code in (550, 553), e)


def forged_from_refused_nothing_sent(w):
    """Issue 18 item 1: alice's bridge refuses a mail whose From: names carol (550 5.7.1 at
    the end of DATA) and bob gets nothing; with her own address and the same display name
    it goes, and bob's ENVELOPE shows it."""
    mail = (b"From: The Director <carol@localhost>\r\nTo: bob@localhost\r\n"
            b"Subject: from the director\r\nMessage-ID: <forged-1@localhost>\r\n\r\nObey.\r\n")
    own = mail.replace(b"<carol@localhost>", b"<alice@localhost>").replace(b"forged-1",
                                                                          b"forged-2")
    with smtp(w, "alice") as s:
        try:
            s.sendmail("alice@localhost", ["bob@localhost"], mail)
            check(False, "a forged From was accepted")
        except smtplib.SMTPDataError as e:
            check(e.smtp_code == 550 and b"5.7.1" in e.smtp_error, e)
        check(s.sendmail("alice@localhost", ["bob@localhost"], own) == {}, "refused")
    M = w.b["bob"].imap()
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<forged-2@localhost>")')
    check(len(uids) == 1, "bob's INBOX: %r" % uids)
    # the refused one was submitted first: had it gone, it would be here by now
    typ, data = M.uid("SEARCH", None, '(HEADER Message-ID "<forged-1@localhost>")')
    check(typ == "OK" and data[0].split() == [], "bob got the forged mail: %r" % data)
    typ, data = M.uid("FETCH", uids[0], "(ENVELOPE)")
    check(b'(("The Director" NIL "alice" "localhost"))' in data[0], data)
    check(BH.fetch_raw(M, "INBOX", uids[0]) == own, "not byte for byte")
    M.logout()


def size_cap_advertised_and_enforced(w):
    """The 25 MiB cap is advertised, and a mail over it refused (552) before anything is
    sent."""
    before = len(_history(w, "alice"))
    with smtp(w, "alice") as s:
        cap = int(s.esmtp_features.get("size", "0"))
        check(cap == CAP, "SIZE %r" % cap)
        code, text = s.mail("alice@localhost", ["SIZE=%d" % (cap + 1)])
        check(code == 552, (code, text))
        s.rset()
        code, text = s.mail("alice@localhost")
        check(code == 250, (code, text))
        code, text = s.rcpt("bob@localhost")
        check(code == 250, (code, text))
        code, text = s.data(b"Subject: too big\r\n\r\n" + b"x" * 998 + b"\r\n" +
                            (b"y" * 998 + b"\r\n") * (cap // 1000))
        check(code == 552, (code, text))
    check(len(_history(w, "alice")) == before, "something was sent")


def idle_shows_new_mail(w):
    sock = socket.create_connection(("127.0.0.1", w.b["bob"].imap_port),
                                    timeout=H.scaled(60))
    f = sock.makefile("rb")
    f.readline()
    pw = w.b["bob"].password
    sock.sendall(b'a LOGIN bob@localhost "%s"\r\nb SELECT INBOX\r\n' % pw.encode())
    exists = None
    while True:
        line = f.readline()
        check(line, "connection closed")
        if line.endswith(b" EXISTS\r\n"):
            exists = int(line.split()[1])
        if line.startswith(b"b "):
            check(line.startswith(b"b OK"), line)
            break
    sock.sendall(b"c IDLE\r\n")
    check(f.readline().startswith(b"+"), "no IDLE continuation")
    with smtp(w, "alice") as s:
        s.sendmail("alice@localhost", ["bob@localhost"],
                   b"Subject: while idling\r\n\r\npushed\r\n")
    line = f.readline()
    check(line == b"* %d EXISTS\r\n" % (exists + 1), "IDLE got %r" % line)
    sock.sendall(b"DONE\r\nd LOGOUT\r\n")
    sock.close()


def flags_and_uids_survive_bridge_restart(w):
    M = w.b["bob"].imap()
    typ, data = M.select("INBOX")
    typ, st1 = M.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")
    uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<lunch-1@localhost>")')
    check(M.uid("STORE", uids[0], "+FLAGS", "(\\Flagged \\Seen)")[0] == "OK", "store")
    M.logout()
    w.b["bob"].stop()
    w.b["bob"].start()
    # mail sent while bob's bridge was down is filed when it comes back
    M = w.b["bob"].imap()
    typ, st2 = M.status("INBOX", "(UIDVALIDITY UIDNEXT MESSAGES)")
    check(st1 == st2, "%r != %r" % (st1, st2))
    M.select("INBOX")
    typ, data = M.uid("FETCH", uids[0], "(FLAGS)")
    check(b"\\Flagged" in data[0] and b"\\Seen" in data[0], data)
    M.logout()


def mail_sent_while_bridge_down_arrives(w):
    """One mail is fetched by `sotto receive` meanwhile (so it is only in carol's history),
    the other waits on the server; the bridge files both when it starts."""
    w.b["carol"].stop()
    with smtp(w, "alice") as s:
        s.sendmail("alice@localhost", ["carol@localhost"],
                   b"Subject: while you were out\r\nMessage-ID: <away@localhost>\r\n\r\nhi\r\n")
    r = w.users["carol"].run("receive", "--json", "--wait", "5")
    got = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
    mails = [m for m in got if m["type"] == "mail"]
    check(r.returncode == 0 and len(mails) == 1 and
          mails[0]["subject"] == "while you were out", "receive: %r" % r.stdout[:300])
    with smtp(w, "alice") as s:
        s.sendmail("alice@localhost", ["carol@localhost"],
                   b"Subject: still out\r\nMessage-ID: <away-2@localhost>\r\n\r\nhi\r\n")
    w.b["carol"].start()
    M = w.b["carol"].imap()
    for mid in ("away", "away-2"):
        uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<%s@localhost>")' % mid)
        check(len(uids) == 1, "carol %s: %r" % (mid, uids))
    M.logout()


def sigkill_while_filing_loses_and_repeats_nothing(w):
    """bob's bridge is killed (SIGKILL) while it takes in mail that waited for it; the
    next start files every mail exactly once."""
    bob = w.b["bob"]
    bob.stop()
    # (with a From: a mail without one is filed with one added, so it would differ)
    big = (b"From: alice@localhost\r\nSubject: big while away\r\n"
           b"Message-ID: <kill-1@localhost>\r\n\r\n" +
           b"".join(b"%07d the quick brown fox jumps over the lazy dog\r\n" % i
                    for i in range(60000)))
    small = (b"From: alice@localhost\r\nSubject: small while away\r\n"
             b"Message-ID: <kill-2@localhost>\r\n\r\nhi\r\n")
    with smtp(w, "alice") as s:
        s.sendmail("alice@localhost", ["bob@localhost"], big)
        s.sendmail("alice@localhost", ["bob@localhost"], small)
    # the kills land while the bridge takes in the big mail (scaled: under valgrind it
    # gets there later)
    for delay in (0.3, 0.8):
        bob.start()
        time.sleep(H.scaled(delay))
        bob.proc.kill()
        bob.proc.wait()
        bob.proc = None
    bob.start()
    M = bob.imap()
    for mid, want in (("kill-1", big), ("kill-2", small)):
        uids = BH.wait_for(M, "INBOX", '(HEADER Message-ID "<%s@localhost>")' % mid)
        check(len(uids) == 1, "%s filed %d times" % (mid, len(uids)))
        check(BH.fetch_raw(M, "INBOX", uids[0]) == want, "%s differs" % mid)
    M.logout()
    bob.stop()
    bob.start()
    M = bob.imap()
    M.select("INBOX")
    typ, data = M.uid("SEARCH", None, '(HEADER Message-ID "<kill-1@localhost>")')
    check(len(data[0].split()) == 1, "filed again after a restart: %r" % data)
    M.logout()


def command_line_refusals_and_password(w):
    alice = w.users["alice"]
    r1 = alice.run("bridge", "--show-password")
    r2 = alice.run("bridge", "--show-password")
    pw = r1.stdout.decode().strip()
    check(r1.returncode == 0 and pw == r2.stdout.decode().strip() and len(pw) == 26 and
          pw == w.b["alice"].password, "password not stable: %r %r" % (r1.stdout, r2.stdout))
    check(b"alice@localhost" in r1.stderr, r1.stderr)
    # the password is kept sealed: not in the store file in clear
    check(H.file_contains(alice.store_files(), pw.encode()) is None, "password in clear")
    # a second bridge on a port that is in use says which side failed
    r = alice.run("bridge", "--smtp", "127.0.0.1:%d" % w.b["alice"].smtp_port,
                  "--imap", "127.0.0.1:%d" % H.free_port(), timeout=30)
    check(r.returncode != 0 and b"SMTP" in r.stderr and b"in use" in r.stderr, r.stderr)
    r = alice.run("bridge", "--imap", "0.0.0.0:%d" % H.free_port(),
                  "--smtp", "127.0.0.1:%d" % H.free_port(), timeout=30)
    check(r.returncode == 10 and b"loopback" in r.stderr, (r.returncode, r.stderr))
    r = alice.run("bridge", "--smtp", "nonsense", timeout=30)
    check(r.returncode == 2, (r.returncode, r.stderr))
    r = alice.run("bridge", "--help")
    check(r.returncode == 0 and b"--show-password" in r.stdout, r.stdout)


def bridge_stops_cleanly(w):
    for who in ("alice", "bob"):
        rc = w.b[who].stop()
        check(rc == 0, "%s's bridge exited with %r" % (who, rc))
        w.b[who].start()


BH.run_checks(setup, [
    smtplib_to_imaplib_byte_identical,
    bcc_gets_a_copy_that_does_not_name_it,
    curl_send_and_read,
    non_sotto_recipient_refused_nothing_sent,
    unknown_sotto_user_refused_at_rcpt,
    same_mail_twice_is_filed_once,
    wrong_password_and_sender_refused,
    forged_from_refused_nothing_sent,
    size_cap_advertised_and_enforced,
    idle_shows_new_mail,
    flags_and_uids_survive_bridge_restart,
    mail_sent_while_bridge_down_arrives,
    largest_mail_with_10_mib_attachment_survives,
    sigkill_while_filing_loses_and_repeats_nothing,
    command_line_refusals_and_password,
    unchecked_recipient_is_temporary,
    bridge_stops_cleanly,
    BH.bridges_exit_cleanly,
])
