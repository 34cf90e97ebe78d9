#!/usr/bin/env python3
"""Drives the bridge's SMTP engine with python3 smtplib and curl, real clients nobody
here wrote. Run by tests/unit/test_smtp_live.c, which owns the server:

    smtp_client.py PORT DIR      (SMTP_USER, SMTP_PASSWORD in the environment)

Prints "ok - smtp/NAME" or "FAIL - smtp/NAME: why" per check. For every copy it expects
the server's backend to receive it writes a line "SERIAL RCPT COPYFILE ORIGFILE" to
DIR/manifest (SERIAL counts the mails that reach delivery, from 1), so the C side can
compare the delivered bytes exactly.
"""
import base64
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import traceback

PORT = int(sys.argv[1])
DIR = sys.argv[2]
USER = os.environ["SMTP_USER"]
PASSWORD = os.environ["SMTP_PASSWORD"]
HOST = "127.0.0.1"
# stretches every timeout for a slow run (scripts/test-valgrind sets it)
SCALE = max(1.0, float(os.environ.get("SOTTO_TIME_SCALE") or 1))

failures = 0
serial = 0
manifest = open(os.path.join(DIR, "manifest"), "w")


def check(name, fn):
    global failures
    try:
        fn()
        print("ok - smtp/%s" % name, flush=True)
    except Exception as e:  # report and keep going: each check stands alone
        failures += 1
        why = "%s: %s" % (type(e).__name__, e)
        print("FAIL - smtp/%s: %s" % (name, why.replace("\n", " ")), flush=True)
        traceback.print_exc(file=sys.stdout)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_delivery(rcpts, copy, orig):
    """Records that the next mail reaching delivery must give `copy` to each of rcpts."""
    global serial
    serial += 1
    cf = os.path.join(DIR, "%d.copy" % serial)
    of = os.path.join(DIR, "%d.orig" % serial)
    with open(cf, "wb") as f:
        f.write(copy)
    with open(of, "wb") as f:
        f.write(orig)
    for r in rcpts:
        manifest.write("%d %s %s %s\n" % (serial, r, cf, of))
    manifest.flush()


def connect():
    s = smtplib.SMTP(HOST, PORT, local_hostname="client.test", timeout=10 * SCALE)
    s.ehlo()
    return s


def logged_in():
    s = connect()
    s.login(USER, PASSWORD)
    return s


def msg(*headers, body):
    head = "".join(h + "\r\n" for h in headers)
    return (head + "\r\n" + body).encode("utf-8")


def t_ehlo_advertises():
    s = connect()
    for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "auth", "help"):
        expect(s.has_extn(ext), "EHLO lacks " + ext)
    expect(s.esmtp_features["size"] == "65536", "SIZE value %r" % s.esmtp_features["size"])
    expect("PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"],
           "AUTH mechanisms")
    code, _ = s.noop()
    expect(code == 250, "NOOP")
    code, text = s.docmd("VRFY", "bob@a.example")
    expect(code == 252, "VRFY gave %d" % code)
    code, text = s.docmd("HELP")
    expect(code == 214 and b"MAIL" in text, "HELP")
    code, _ = s.docmd("EXPN", "list")
    expect(code == 502, "EXPN")
    s.quit()


def t_mail_requires_auth():
    s = connect()
    code, text = s.docmd("MAIL", "FROM:<%s>" % USER)
    expect(code == 530 and b"5.7.0" in text, "MAIL before AUTH gave %d" % code)
    s.quit()


def t_wrong_password_then_right():
    s = connect()
    t0 = time.monotonic()
    try:
        s.login(USER, "wrong password")
        raise AssertionError("wrong password accepted")
    except smtplib.SMTPAuthenticationError as e:
        expect(e.smtp_code == 535, "code %d" % e.smtp_code)
    expect(time.monotonic() - t0 >= 0.09, "a failure is answered only after a delay")
    try:
        s.login("mallory@a.example", PASSWORD)
        raise AssertionError("wrong user accepted")
    except smtplib.SMTPAuthenticationError as e:
        expect(e.smtp_code == 535, "code %d" % e.smtp_code)
    s.login(USER, PASSWORD)
    code, _ = s.docmd("AUTH", "PLAIN")
    expect(code == 503, "second AUTH gave %d" % code)
    s.quit()


def auth_plain(s, user, password):
    """One AUTH PLAIN: (code, seconds until the answer)."""
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    t0 = time.monotonic()
    code, _ = s.docmd("AUTH", "PLAIN " + ir)
    return code, time.monotonic() - t0


def t_wrong_passwords_never_lock_out():
    """Issue 18 item 6: every local user shares 127.0.0.1, so wrong passwords for the
    user's name or for another name never refuse the right password; each further
    failure for one name only waits longer (base 100 ms, 4 at the base, doubling)."""
    for name in (USER, "mallory@a.example"):
        s = connect()
        for _ in range(4):
            code, _ = auth_plain(s, name, "still wrong")
            expect(code == 535, "wrong password for %s gave %d" % (name, code))
        s.quit()
    s = connect()
    code, first = auth_plain(s, USER, "wrong again")
    expect(code == 535, "gave %d" % code)
    code, second = auth_plain(s, USER, "and again")
    expect(code == 535, "gave %d" % code)
    # at least the 5th and 6th failure of this name: 200 ms, then 400 ms at least
    expect(first >= 0.19 and second >= 0.39, "delays %.3f, %.3f" % (first, second))
    code, _ = auth_plain(s, USER, PASSWORD)
    expect(code == 235, "right password after failures gave %d" % code)
    s.quit()


def t_auth_plain_without_initial_response():
    s = connect()
    s.user, s.password = USER, PASSWORD
    code, resp = s.auth("PLAIN", s.auth_plain, initial_response_ok=False)
    expect(code == 235, "AUTH PLAIN then response gave %d" % code)
    s.quit()


def t_auth_login_both_ways():
    for ir in (False, True):
        s = connect()
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=ir)
        expect(code == 235, "AUTH LOGIN (initial response %s) gave %d" % (ir, code))
        s.quit()


def t_auth_cancel_and_garbage():
    s = connect()
    code, _ = s.docmd("AUTH", "LOGIN")
    expect(code == 334, "LOGIN challenge")
    code, _ = s.docmd("*")
    expect(code == 501, "cancel gave %d" % code)
    code, _ = s.docmd("AUTH", "PLAIN !!!notbase64")
    expect(code == 501, "garbage gave %d" % code)
    code, _ = s.docmd("AUTH", "CRAM-MD5")
    expect(code == 504, "unknown mechanism gave %d" % code)
    code, _ = s.noop()
    expect(code == 250, "usable after AUTH errors")
    s.quit()


def t_simple_send():
    s = logged_in()
    m = msg("From: %s" % USER, "To: bob@a.example", "Subject: hello", body="Hi Bob.\r\n")
    expect_delivery(["bob@a.example"], m, m)
    refused = s.sendmail(USER, ["bob@a.example"], m)
    expect(refused == {}, "refused %r" % refused)
    s.quit()


def t_dot_stuffing_and_8bit():
    s = logged_in()
    body = (".hidden line\r\n..two dots\r\n.\r\n. space\r\nlast\r\n" +
            "Grüße, ünïcödé\r\n")
    m = msg("From: %s" % USER, "To: carol@a.example", "Subject: dots",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit", body=body)
    expect_delivery(["carol@a.example"], m, m)
    s.sendmail(USER, ["carol@a.example"], m, mail_options=["BODY=8BITMIME"])
    s.quit()


def t_bcc_each_gets_a_copy_without_bcc():
    s = logged_in()
    headers = ["From: %s" % USER, "To: bob@a.example", "Cc: carol@a.example"]
    after = ["Subject: secret party", "Message-ID: <1@a.example>"]
    bcc = ["Bcc: dave@a.example,", "\tr1@a.example"]
    body = "Don't tell.\r\n"
    orig = msg(*(headers + bcc + after), body=body)
    copy = msg(*(headers + after), body=body)
    rcpts = ["bob@a.example", "carol@a.example", "dave@a.example", "r1@a.example"]
    expect_delivery(rcpts, copy, orig)
    refused = s.sendmail(USER, rcpts, orig)
    expect(refused == {}, "refused %r" % refused)
    s.quit()


def t_recipient_outside_sotto_refused():
    s = logged_in()
    code, _ = s.mail(USER)
    expect(code == 250, "MAIL")
    code, text = s.rcpt("eve@gmail.example")
    expect(code == 550 and b"5.7.1" in text and b"not a Sotto user" in text,
           "outside recipient gave %d %r" % (code, text))
    code, text = s.rcpt("nobody@a.example")
    expect(code == 550 and b"5.1.1" in text, "unknown user gave %d %r" % (code, text))
    code, text = s.rcpt("temp@a.example")
    expect(code == 451, "lookup failure gave %d" % code)
    code, _ = s.docmd("DATA")
    expect(code == 554, "DATA with no valid recipient gave %d" % code)
    s.rset()
    # sendmail with one good and one refused recipient: delivered to the good one only.
    m = msg("From: %s" % USER, "To: bob@a.example, eve@gmail.example", "Subject: mixed",
            body="Only Bob gets this.\r\n")
    expect_delivery(["bob@a.example"], m, m)
    refused = s.sendmail(USER, ["bob@a.example", "eve@gmail.example"], m)
    expect(list(refused) == ["eve@gmail.example"] and refused["eve@gmail.example"][0] == 550,
           "refused %r" % refused)
    s.quit()


def t_sender_must_be_user():
    s = logged_in()
    code, text = s.mail("mallory@a.example")
    expect(code == 553, "foreign sender gave %d" % code)
    code, _ = s.mail("<>")
    expect(code in (553, 501), "null sender gave %d" % code)
    code, _ = s.mail(USER.upper())
    expect(code == 250, "own address in capitals gave %d" % code)
    code, _ = s.mail(USER)
    expect(code == 503, "nested MAIL gave %d" % code)
    s.quit()


def t_forged_from_refused():
    """Issue 18 item 1: From: and Sender: must be the user's own address (display names
    allowed, the domain in any case); anything else is refused 550 5.7.1 at the end of
    DATA and nothing is delivered."""
    local, dom = USER.split("@")
    forged = [
        ["From: The Director <carol@a.example>"],
        ["From: %s" % USER, "Sender: carol@a.example"],
        ["From: %s, carol@a.example" % USER],
        ["From: %s" % USER, "From: carol@a.example"],
        ['From: "carol@a.example" <%s>' % USER],
        ["From: =?utf-8?q?carol=40a.example?= <%s>" % USER],
        ["From: =?utf-8?b?Y2Fyb2xAYS5leGFtcGxl?= <%s>" % USER],
        ["From: %s (carol@a.example)" % USER],
        ["From: Team: %s;" % USER],
        ["From: <@relay.example:%s>" % USER],
        ["From: %s@%s" % (local.upper(), dom)],    # the local part is compared exactly
        ["From: =?utf-8?q?A=0D=0AFrom:_carol@a.example?= <%s>" % USER],
        ["From:"],
    ]
    s = logged_in()
    for h in forged:
        m = msg(*(h + ["To: bob@a.example", "Subject: forged"]), body="x\r\n")
        try:
            s.sendmail(USER, ["bob@a.example"], m)
            raise AssertionError("accepted %r" % h)
        except smtplib.SMTPDataError as e:
            expect(e.smtp_code == 550 and b"5.7.1" in e.smtp_error,
                   "%r gave %d %r" % (h, e.smtp_code, e.smtp_error))
    allowed = [
        ["From: The Director <%s>" % USER],
        ['From: "Alice, A." <%s@%s>' % (local, dom.upper()), "Sender: %s" % USER],
        ["From: =?utf-8?q?Al=C3=AFce?= <%s>" % USER],
        ['From: "%s" <%s>' % (USER, USER)],
        ["To: bob@a.example"],       # no From at all: the receiving bridge adds one
    ]
    for h in allowed:
        m = msg(*(h + ["Subject: mine"]), body="y\r\n")
        expect_delivery(["bob@a.example"], m, m)
        refused = s.sendmail(USER, ["bob@a.example"], m)
        expect(refused == {}, "%r refused %r" % (h, refused))
    s.quit()


def t_sequence_and_syntax_errors_keep_connection():
    s = logged_in()
    code, _ = s.docmd("RCPT", "TO:<bob@a.example>")
    expect(code == 503, "RCPT before MAIL gave %d" % code)
    code, _ = s.docmd("DATA")
    expect(code == 503, "DATA before MAIL gave %d" % code)
    code, _ = s.docmd("FROBNICATE")
    expect(code == 500, "unknown command gave %d" % code)
    code, _ = s.docmd("MAIL", "FROM:alice@a.example")
    expect(code == 501, "path without <> gave %d" % code)
    code, _ = s.docmd("MAIL", "FROM:<%s> FOO=BAR" % USER)
    expect(code == 555, "unknown parameter gave %d" % code)
    code, _ = s.noop()
    expect(code == 250, "usable after errors")
    s.quit()


def t_too_many_errors_closes():
    s = connect()
    closed = False
    for _ in range(10):
        try:
            code, text = s.docmd("BOGUS")
        except smtplib.SMTPServerDisconnected:
            closed = True
            break
        if code == 421:
            closed = True
            break
    expect(closed, "connection not closed after many errors")


def t_too_many_recipients():
    s = logged_in()
    s.mail(USER)
    codes = [s.rcpt("r%d@a.example" % i)[0] for i in range(1, 7)]
    expect(codes == [250] * 5 + [452], "codes %r" % codes)
    code, _ = s.rcpt("r1@a.example")
    expect(code == 250, "duplicate recipient gave %d" % code)
    s.rset()
    s.quit()


def t_size_limits():
    s = logged_in()
    code, text = s.mail(USER, ["SIZE=100000"])
    expect(code == 552 and b"5.3.4" in text, "declared SIZE over cap gave %d" % code)
    code, _ = s.mail(USER, ["SIZE=1000"])
    expect(code == 250, "SIZE under cap gave %d" % code)
    s.rset()
    # Undeclared and too big: refused after DATA, nothing delivered, connection usable.
    s.mail(USER)
    s.rcpt("bob@a.example")
    big = msg("Subject: big", body=("x" * 76 + "\r\n") * 1200)
    code, text = s.data(big)
    expect(code == 552, "oversized DATA gave %d %r" % (code, text))
    code, _ = s.noop()
    expect(code == 250, "usable after 552")
    # A line over 998 octets is refused too.
    s.mail(USER)
    s.rcpt("bob@a.example")
    code, _ = s.data(msg("Subject: long", body="y" * 1200 + "\r\n"))
    expect(code == 500, "long line gave %d" % code)
    s.quit()


def t_rset_discards_transaction():
    s = logged_in()
    s.mail(USER)
    s.rcpt("bob@a.example")
    code, _ = s.rset()
    expect(code == 250, "RSET")
    m = msg("From: %s" % USER, "To: carol@a.example", "Subject: after rset", body="c\r\n")
    expect_delivery(["carol@a.example"], m, m)
    s.mail(USER)
    s.rcpt("carol@a.example")
    code, _ = s.data(m)
    expect(code == 250, "DATA after RSET gave %d" % code)
    s.quit()


def t_delivery_failure_reported():
    s = logged_in()
    m = msg("From: %s" % USER, "To: bob@a.example, fail@a.example", "Subject: f",
            body="x\r\n")
    expect_delivery(["bob@a.example"], m, m)
    s.mail(USER)
    s.rcpt("bob@a.example")
    s.rcpt("fail@a.example")
    code, text = s.data(m)
    expect(code == 554 and b"fail@a.example" in text and b"bob@a.example" not in text,
           "partial failure gave %d %r" % (code, text))
    s.quit()


def recv_replies(sock, n):
    """Reads until n final reply lines ("DDD ") have arrived; returns them."""
    data = b""
    while True:
        lines = [l for l in data.split(b"\r\n") if len(l) >= 4 and l[3:4] == b" "]
        if len(lines) >= n:
            return lines[:n]
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("closed; got %r" % data)
        data += chunk


def t_pipelining_raw():
    sock = socket.create_connection((HOST, PORT), timeout=10 * SCALE)
    recv_replies(sock, 1)
    ir = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    sock.sendall(("EHLO pipe\r\nAUTH PLAIN %s\r\nMAIL FROM:<%s> BODY=8BITMIME\r\n"
                  "RCPT TO:<bob@a.example>\r\nRCPT TO:<eve@gmail.example>\r\n"
                  "RCPT TO:<dave@a.example>\r\nDATA\r\n" % (ir, USER)).encode())
    replies = recv_replies(sock, 7)
    codes = [int(l[:3]) for l in replies]
    expect(codes == [250, 235, 250, 250, 550, 250, 354], "codes %r" % codes)
    body = b"Subject: pipelined\r\n\r\n.\r\n"   # stuffed: the body is one "." line
    orig = b"Subject: pipelined\r\n\r\n.\r\n"
    expect_delivery(["bob@a.example", "dave@a.example"], orig, orig)
    stuffed = b"Subject: pipelined\r\n\r\n..\r\n.\r\n"
    sock.sendall(stuffed + b"RSET\r\nNOOP\r\nQUIT\r\n")
    replies = recv_replies(sock, 4)
    codes = [int(l[:3]) for l in replies]
    expect(codes == [250, 250, 250, 221], "codes after DATA %r" % codes)
    sock.close()
    del body


def t_curl():
    curl = shutil.which("curl")
    expect(curl is not None, "curl not installed")
    m = (b"From: alice@a.example\r\nTo: bob@a.example\r\nSubject: via curl\r\n\r\n"
         b"Sent by curl.\r\n.starts with a dot\r\n.\r\nend\r\n")
    path = os.path.join(DIR, "curl.eml")
    with open(path, "wb") as f:
        f.write(m)
    expect_delivery(["bob@a.example", "carol@a.example"], m, m)
    r = subprocess.run([curl, "-sS", "smtp://%s:%d" % (HOST, PORT),
                        "--mail-from", USER, "--mail-rcpt", "bob@a.example",
                        "--mail-rcpt", "carol@a.example", "--upload-file", path,
                        "-u", "%s:%s" % (USER, PASSWORD)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SCALE)
    expect(r.returncode == 0, "curl exit %d: %s" % (r.returncode, r.stdout))
    # curl refuses the whole send when a recipient is refused.
    r = subprocess.run([curl, "-sS", "smtp://%s:%d" % (HOST, PORT),
                        "--mail-from", USER, "--mail-rcpt", "eve@gmail.example",
                        "--upload-file", path, "-u", "%s:%s" % (USER, PASSWORD)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SCALE)
    expect(r.returncode != 0 and b"550" in r.stdout, "curl to outsider: %d %r" %
           (r.returncode, r.stdout))
    r = subprocess.run([curl, "-sS", "smtp://%s:%d" % (HOST, PORT),
                        "--mail-from", USER, "--mail-rcpt", "bob@a.example",
                        "--upload-file", path, "-u", "%s:%s" % (USER, "nope")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * SCALE)
    expect(r.returncode != 0, "curl with a wrong password succeeded")


check("ehlo_advertises_extensions", t_ehlo_advertises)
check("mail_requires_auth", t_mail_requires_auth)
check("wrong_password_refused_after_delay", t_wrong_password_then_right)
check("wrong_passwords_never_lock_out", t_wrong_passwords_never_lock_out)
check("auth_plain_without_initial_response", t_auth_plain_without_initial_response)
check("auth_login_with_and_without_initial_response", t_auth_login_both_ways)
check("auth_cancel_garbage_unknown_mechanism", t_auth_cancel_and_garbage)
check("simple_send", t_simple_send)
check("dot_stuffing_and_8bitmime", t_dot_stuffing_and_8bit)
check("bcc_each_recipient_one_copy_without_bcc", t_bcc_each_gets_a_copy_without_bcc)
check("recipient_outside_sotto_refused_550", t_recipient_outside_sotto_refused)
check("sender_must_be_the_user", t_sender_must_be_user)
check("forged_from_refused_550", t_forged_from_refused)
check("errors_keep_connection_usable", t_sequence_and_syntax_errors_keep_connection)
check("too_many_errors_closes", t_too_many_errors_closes)
check("too_many_recipients_452", t_too_many_recipients)
check("size_limits_552", t_size_limits)
check("rset_discards_transaction", t_rset_discards_transaction)
check("delivery_failure_reported_not_lost", t_delivery_failure_reported)
check("pipelining_raw_socket", t_pipelining_raw)
check("curl_send", t_curl)
manifest.close()
sys.exit(1 if failures else 0)
