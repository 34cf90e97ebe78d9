/*
 * One SMTP submission session. Replies are written as commands are read, so pipelined
 * commands (RFC 2920) are answered in order; while an answer depends on something
 * asynchronous (a password check, a recipient lookup, the deliveries after DATA) the
 * session stops consuming input and the listener holds the rest until it resumes.
 */
#include "smtp/smtp_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "bridge/lineio.h"
#include "sotto/mail.h"
#include "bridge/sasl.h"
#include "smtp/smtp_bcc.h"
#include "smtp/smtp_parse.h"

/* Command lines may be longer than RFC 5321's 512 only for AUTH, whose initial response
 * carries an address of up to 320 bytes and a password in base64 (RFC 4954 section 4
 * allows 12288); every other command over 510 bytes is refused. */
#define AUTH_LINE_MAX 2046
#define REPLY_MAX 1024

enum phase {
	PH_COMMAND,             /* reading commands */
	PH_AUTH_PLAIN,          /* 334 sent, waiting for the PLAIN response */
	PH_AUTH_LOGIN_USER,
	PH_AUTH_LOGIN_PASS,
	PH_DATA,                /* reading the message */
};

struct smtp_session {
	struct smtp_server *srv;
	struct listener_conn *conn;     /* NULL once the connection is gone */
	struct lineio lio;
	enum phase phase;
	int ehlo;                       /* EHLO or HELO seen */
	int esmtp;                      /* EHLO (AUTH is allowed only after it) */
	int authed;
	unsigned errors;
	int waiting;                    /* an answer is pending: consume nothing */
	unsigned callbacks;             /* backend/auth callbacks still to come */
	struct bridge_auth_req *auth_req;
	char login_user[SOTTO_ADDRESS_MAX + 1];
	size_t login_user_len;

	/* the transaction */
	int have_mail;
	char from[SMTP_PATH_MAX + 1];
	char **rcpts;
	size_t nrcpts;
	char asking[SMTP_PATH_MAX + 1]; /* recipient being checked */
	struct buf msg;
	int msg_too_big;
	int msg_long_line;

	/* delivery of the finished message */
	struct buf copy;
	struct smtp_mail mail;
	size_t deliver_left;
	int deliver_perm;
	int deliver_temp;
	char deliver_reason[SMTP_REASON_MAX + 1];
	struct buf failed;              /* "a@b, c@d" of failed recipients */
	struct deliver_slot *slots;     /* one callback context per recipient */
};

struct deliver_slot {
	struct smtp_session *s;
	size_t rcpt;
};

static void session_maybe_free(struct smtp_session *s);

static void reply(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;
	int n;

	if (s->conn == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)listener_conn_write(s->conn, line, (size_t)n);
}

/* A backend's reason text, made safe for a reply line: printable ASCII, capped. */
static void
clean_reason(char *out, size_t cap, const char *in, const char *fallback)
{
	size_t i, n = 0;

	if (in == NULL || in[0] == '\0')
		in = fallback;
	for (i = 0; in[i] != '\0' && n + 1 < cap; i++)
		out[n++] = (in[i] >= 32 && in[i] < 127) ? in[i] : '?';
	out[n] = '\0';
}

/* A 5xx for the client's mistake: the connection stays usable until too many. */
static void
error_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
error_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	reply(s, "%s", line);
	if (++s->errors >= s->srv->max_errors && s->conn != NULL) {
		reply(s, "421 4.7.0 %s Too many errors, closing connection", s->srv->hostname);
		listener_conn_close(s->conn);
	}
}

static void
transaction_reset(struct smtp_session *s)
{
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	s->nrcpts = 0;
	s->have_mail = 0;
	s->from[0] = '\0';
	buf_wipe_free(&s->msg);
	buf_wipe_free(&s->copy);
	buf_free(&s->failed);
	free(s->slots);
	s->slots = NULL;
	s->msg_too_big = 0;
	s->msg_long_line = 0;
}

/* Stop consuming input until the pending answer is written; the listener also stops
 * the idle timer, since a delivery may take a while. */
static void
wait_for_answer(struct smtp_session *s)
{
	s->waiting = 1;
	if (s->conn != NULL)
		listener_conn_pause(s->conn);
}

static void
resume(struct smtp_session *s)
{
	s->waiting = 0;
	if (s->conn != NULL)
		listener_conn_resume(s->conn);
}

void *
smtp_session_open(void *server, struct listener_conn *c)
{
	struct smtp_server *srv = server;
	struct smtp_session *s;

	if (srv->stopping || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->rcpts = calloc(srv->max_rcpts, sizeof(*s->rcpts))) == NULL) {
		free(s);
		return NULL;
	}
	s->srv = srv;
	s->conn = c;
	lineio_init(&s->lio, AUTH_LINE_MAX, 0);
	srv->sessions++;
	reply(s, "220 %s ESMTP Sotto bridge: mail leaves here end-to-end encrypted",
	    srv->hostname);
	return s;
}

static void
smtp_session_free(struct smtp_session *s)
{
	struct smtp_server *srv = s->srv;

	transaction_reset(s);
	free(s->rcpts);
	lineio_free(&s->lio);
	sodium_memzero(s, sizeof(*s));
	free(s);
	smtp_server_session_gone(srv);
}

static void
session_maybe_free(struct smtp_session *s)
{
	if (s->conn == NULL && s->callbacks == 0)
		smtp_session_free(s);
}

void
smtp_session_closed(void *session, int why)
{
	struct smtp_session *s = session;

	(void)why;
	s->conn = NULL;
	if (s->auth_req != NULL) {
		bridge_auth_cancel(s->auth_req);
		s->auth_req = NULL;
		s->callbacks--;
	}
	session_maybe_free(s);
}

/* ---- AUTH (RFC 4954) ---- */

static void
on_auth(void *arg, int result)
{
	struct smtp_session *s = arg;

	s->auth_req = NULL;
	s->callbacks--;
	if (result == 0) {
		s->authed = 1;
		reply(s, "235 2.7.0 Authentication successful");
	} else if (result == SOTTO_ERR_AUTH) {
		error_reply(s, "535 5.7.8 Authentication credentials invalid");
	} else if (result == SOTTO_ERR_LIMIT) {
		reply(s, "454 4.7.0 Too many logins waiting to be checked, try again later");
	} else {
		reply(s, "454 4.7.0 Temporary authentication failure");
	}
	sodium_memzero(s->login_user, sizeof(s->login_user));
	s->login_user_len = 0;
	if (s->conn == NULL) {
		session_maybe_free(s);
		return;
	}
	resume(s);
}

static void
auth_start_check(struct smtp_session *s, const uint8_t *user, size_t ulen, const uint8_t *pw,
    size_t pwlen)
{
	int r;

	s->phase = PH_COMMAND;
	r = bridge_auth_check(s->srv->auth, user, ulen, pw, pwlen,
	    on_auth, s, &s->auth_req);
	if (r != 0) {
		reply(s, "454 4.7.0 Temporary authentication failure");
		return;
	}
	s->callbacks++;
	wait_for_answer(s);
}

/* Decodes a base64 SASL response into out (secret). Returns 0, or 1 after answering. */
static int
auth_decode(struct smtp_session *s, const uint8_t *p, size_t n, uint8_t *out, size_t cap,
    size_t *outlen)
{
	*outlen = 0;
	if (n == 1 && p[0] == '*') {
		s->phase = PH_COMMAND;
		error_reply(s, "501 5.0.0 Authentication cancelled");
		return 1;
	}
	if (n == 1 && p[0] == '=')
		return 0;       /* an empty initial response */
	if (sasl_b64_decode(p, n, out, cap, outlen) != 0) {
		s->phase = PH_COMMAND;
		error_reply(s, "501 5.5.2 Cannot decode the response");
		return 1;
	}
	return 0;
}

static void
auth_plain_response(struct smtp_session *s, const uint8_t *p, size_t n)
{
	uint8_t msg[SOTTO_ADDRESS_MAX * 2 + BRIDGE_PASSWORD_MAX + 2];     /* secret */
	struct sasl_plain sp;
	size_t len;

	if (auth_decode(s, p, n, msg, sizeof(msg), &len) != 0)
		goto out;
	if (sasl_plain_parse(msg, len, SOTTO_ADDRESS_MAX, BRIDGE_PASSWORD_MAX, &sp) != 0) {
		s->phase = PH_COMMAND;
		error_reply(s, "535 5.7.8 Authentication credentials invalid");
		goto out;
	}
	auth_start_check(s, sp.authcid, sp.authcid_len, sp.passwd, sp.passwd_len);
out:
	sodium_memzero(msg, sizeof(msg));
}

static void
auth_login_user(struct smtp_session *s, const uint8_t *p, size_t n)
{
	if (auth_decode(s, p, n, (uint8_t *)s->login_user, sizeof(s->login_user) - 1,
	    &s->login_user_len) != 0)
		return;
	s->phase = PH_AUTH_LOGIN_PASS;
	reply(s, "334 UGFzc3dvcmQ6");   /* "Password:" */
}

static void
auth_login_pass(struct smtp_session *s, const uint8_t *p, size_t n)
{
	uint8_t pw[BRIDGE_PASSWORD_MAX];        /* secret */
	size_t len;

	if (auth_decode(s, p, n, pw, sizeof(pw), &len) == 0)
		auth_start_check(s, (const uint8_t *)s->login_user, s->login_user_len, pw, len);
	sodium_memzero(pw, sizeof(pw));
}

static void
cmd_auth(struct smtp_session *s, const uint8_t *arg, size_t len)
{
	char mech[21];
	const uint8_t *ir;
	size_t irlen;

	if (!s->esmtp) {
		error_reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (s->authed) {
		error_reply(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (s->have_mail) {
		error_reply(s, "503 5.5.1 AUTH not allowed during a mail transaction");
		return;
	}
	if (smtp_parse_auth(arg, len, mech, &ir, &irlen) != 0) {
		error_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	if (strcmp(mech, "PLAIN") == 0) {
		if (ir != NULL) {
			auth_plain_response(s, ir, irlen);
			return;
		}
		s->phase = PH_AUTH_PLAIN;
		reply(s, "334 ");
	} else if (strcmp(mech, "LOGIN") == 0) {
		if (ir != NULL) {
			s->phase = PH_AUTH_LOGIN_USER;
			auth_login_user(s, ir, irlen);
			return;
		}
		s->phase = PH_AUTH_LOGIN_USER;
		reply(s, "334 VXNlcm5hbWU6");   /* "Username:" */
	} else {
		error_reply(s, "504 5.5.4 Unrecognized authentication type (use PLAIN or LOGIN)");
	}
}

/* ---- MAIL, RCPT ---- */

static int
same_address(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static void
cmd_mail(struct smtp_session *s, const uint8_t *arg, size_t len)
{
	struct smtp_path path;
	struct smtp_mail_params mp;
	size_t used;
	int r;

	if (!s->ehlo) {
		error_reply(s, "503 5.5.1 Send EHLO first");
		return;
	}
	if (!s->authed) {
		error_reply(s, "530 5.7.0 Authentication required");
		return;
	}
	if (s->have_mail) {
		error_reply(s, "503 5.5.1 Sender already given (send RSET to start over)");
		return;
	}
	if ((r = smtp_parse_path(arg, len, &path, &used)) != 0) {
		if (r == SOTTO_ERR_TOO_LARGE)
			error_reply(s, "501 5.1.7 Sender address too long");
		else
			error_reply(s, "501 5.1.7 Syntax: MAIL FROM:<address>");
		return;
	}
	r = smtp_parse_mail_params(arg + used, len - used, &mp);
	if (r == SOTTO_ERR_UNSUPPORTED) {
		error_reply(s, "555 5.5.4 Unsupported MAIL parameter");
		return;
	}
	if (r == SOTTO_ERR_TOO_LARGE || (r == 0 && mp.has_size && mp.size > s->srv->max_size)) {
		reply(s, "552 5.3.4 Message size exceeds fixed maximum message size (%llu)",
		    (unsigned long long)s->srv->max_size);
		return;
	}
	if (r != 0) {
		error_reply(s, "501 5.5.4 Syntax error in MAIL parameters");
		return;
	}
	if (path.null_path || path.postmaster || !same_address(path.addr, s->srv->user)) {
		error_reply(s, "553 5.7.1 Sender must be your own address <%s>", s->srv->user);
		return;
	}
	memcpy(s->from, s->srv->user, strlen(s->srv->user) + 1);
	s->have_mail = 1;
	reply(s, "250 2.1.0 Sender <%s> OK", s->from);
}

static void
on_rcpt(void *ctx, enum smtp_rcpt_verdict v, const char *reason)
{
	struct smtp_session *s = ctx;
	char why[SMTP_REASON_MAX + 1];

	s->callbacks--;
	if (s->conn == NULL) {
		session_maybe_free(s);
		return;
	}
	switch (v) {
	case SMTP_RCPT_OK:
		if ((s->rcpts[s->nrcpts] = strdup(s->asking)) == NULL) {
			reply(s, "452 4.3.0 Out of memory, try later");
			break;
		}
		s->nrcpts++;
		reply(s, "250 2.1.5 Recipient <%s> OK", s->asking);
		break;
	case SMTP_RCPT_NOT_SOTTO:
		clean_reason(why, sizeof(why), reason, "not a Sotto user; the bridge only sends "
		    "end-to-end encrypted mail and never sends in the clear");
		reply(s, "550 5.7.1 <%s>: %s", s->asking, why);
		break;
	case SMTP_RCPT_UNKNOWN:
		clean_reason(why, sizeof(why), reason, "no such Sotto user");
		reply(s, "550 5.1.1 <%s>: %s", s->asking, why);
		break;
	default:
		clean_reason(why, sizeof(why), reason, "could not look up the recipient now");
		reply(s, "451 4.4.3 <%s>: %s, try again later", s->asking, why);
		break;
	}
	resume(s);
}

static void
cmd_rcpt(struct smtp_session *s, const uint8_t *arg, size_t len)
{
	struct smtp_path path;
	size_t used, i;
	int r;

	if (!s->have_mail) {
		error_reply(s, "503 5.5.1 Need MAIL before RCPT");
		return;
	}
	if ((r = smtp_parse_path(arg, len, &path, &used)) != 0 || path.null_path) {
		error_reply(s, r == SOTTO_ERR_TOO_LARGE ? "501 5.1.3 Recipient address too long" :
		    "501 5.1.3 Syntax: RCPT TO:<address>");
		return;
	}
	if ((r = smtp_parse_rcpt_params(arg + used, len - used)) != 0) {
		error_reply(s, r == SOTTO_ERR_UNSUPPORTED ? "555 5.5.4 Unsupported RCPT parameter" :
		    "501 5.5.4 Syntax error in RCPT parameters");
		return;
	}
	for (i = 0; i < s->nrcpts; i++)
		if (same_address(s->rcpts[i], path.addr)) {
			reply(s, "250 2.1.5 Recipient <%s> OK (duplicate, one copy)", path.addr);
			return;
		}
	if (s->nrcpts >= s->srv->max_rcpts) {
		reply(s, "452 4.5.3 Too many recipients (at most %u)", s->srv->max_rcpts);
		return;
	}
	memcpy(s->asking, path.addr, path.len + 1);
	wait_for_answer(s);
	s->callbacks++;
	s->srv->be.check_rcpt(s->srv->be.arg, s->asking, on_rcpt, s);
}

/* ---- DATA and delivery ---- */

static void
delivery_finished(struct smtp_session *s)
{
	if (s->deliver_perm || s->deliver_temp) {
		int flen = buf_status(&s->failed) == 0 ? (int)s->failed.len : 0;

		reply(s, "%s Not delivered to %.*s: %s%s", s->deliver_perm ? "554 5.0.0" : "451 4.3.0",
		    flen, flen ? (const char *)s->failed.p : "", s->deliver_reason, s->deliver_perm ? "" : "; try again later");
	} else {
		reply(s, "250 2.0.0 Ok: encrypted and handed over for %zu recipient%s",
		    s->mail.nrcpts, s->mail.nrcpts == 1 ? "" : "s");
	}
	transaction_reset(s);
	memset(&s->mail, 0, sizeof(s->mail));
	resume(s);
}

static void
on_delivered(void *ctx, enum smtp_deliver_result r, const char *reason)
{
	struct deliver_slot *slot = ctx;
	struct smtp_session *s = slot->s;

	s->callbacks--;
	s->deliver_left--;
	if (r != SMTP_DELIVER_OK) {
		if (r == SMTP_DELIVER_PERMFAIL)
			s->deliver_perm = 1;
		else
			s->deliver_temp = 1;
		if (s->failed.len > 0)
			buf_put(&s->failed, ", ", 2);
		buf_put(&s->failed, s->rcpts[slot->rcpt], strlen(s->rcpts[slot->rcpt]));
		if (s->deliver_reason[0] == '\0')
			clean_reason(s->deliver_reason, sizeof(s->deliver_reason), reason,
			    "delivery failed");
	}
	if (s->deliver_left > 0)
		return;
	delivery_finished(s);
	session_maybe_free(s);
}

static void
data_end(struct smtp_session *s)
{
	size_t i, n;

	s->phase = PH_COMMAND;
	lineio_set_line_max(&s->lio, AUTH_LINE_MAX);
	if (s->msg_too_big) {
		transaction_reset(s);
		reply(s, "552 5.3.4 Message size exceeds fixed maximum message size (%llu)",
		    (unsigned long long)s->srv->max_size);
		return;
	}
	if (s->msg_long_line) {
		transaction_reset(s);
		reply(s, "500 5.5.2 Message refused: a line is longer than %d octets",
		    SMTP_TEXT_LINE_MAX);
		return;
	}
	/* the recipients' mail clients show From: (or Sender:) as who sent it */
	if (sotto_mail_sender_check(s->msg.p, s->msg.len, s->srv->user) ==
	    SOTTO_MAIL_SENDER_MISMATCH) {
		transaction_reset(s);
		reply(s, "550 5.7.1 From: and Sender: must be your own address <%s>",
		    s->srv->user);
		return;
	}
	buf_init_dyn(&s->copy, s->srv->max_size);
	if (smtp_bcc_strip(s->msg.p, s->msg.len, &s->copy) != 0) {
		transaction_reset(s);
		reply(s, "451 4.3.0 Could not prepare the message, try again later");
		return;
	}
	buf_init_dyn(&s->failed, 600);   /* the reply line caps what is shown anyway */
	if ((s->slots = calloc(s->nrcpts, sizeof(*s->slots))) == NULL) {
		transaction_reset(s);
		reply(s, "451 4.3.0 Out of memory, try again later");
		return;
	}
	memset(&s->mail, 0, sizeof(s->mail));
	s->mail.from = s->from;
	s->mail.rcpts = (const char *const *)s->rcpts;
	s->mail.nrcpts = s->nrcpts;
	s->mail.original = s->msg.p;
	s->mail.original_len = s->msg.len;
	s->mail.copy = s->copy.p;
	s->mail.copy_len = s->copy.len;
	s->deliver_left = s->nrcpts;
	s->deliver_perm = s->deliver_temp = 0;
	s->deliver_reason[0] = '\0';
	wait_for_answer(s);
	n = s->nrcpts;
	s->callbacks += (unsigned)n;
	for (i = 0; i < n; i++) {
		s->slots[i].s = s;
		s->slots[i].rcpt = i;
		s->srv->be.deliver(s->srv->be.arg, &s->mail, i, on_delivered, &s->slots[i]);
	}
}

static void
data_line(struct smtp_session *s, const uint8_t *p, size_t n)
{
	if (n == 1 && p[0] == '.') {
		data_end(s);
		return;
	}
	if (n > 0 && p[0] == '.') {
		p++;            /* dot-unstuffing, RFC 5321 section 4.5.2 */
		n--;
	}
	if (s->msg_too_big || s->msg_long_line)
		return;
	if (n + 2 > s->srv->max_size - s->msg.len) {
		/* Stop buffering at the cap; keep reading to the end to answer 552 in sync. */
		s->msg_too_big = 1;
		buf_wipe_free(&s->msg);
		return;
	}
	if (n > 0)      /* (buf_reserve(0) on a still-empty buffer would offset NULL) */
		buf_put(&s->msg, p, n);
	buf_put(&s->msg, "\r\n", 2);    /* stored with CRLF whatever the client sent */
	if (buf_status(&s->msg) != 0) {
		s->msg_too_big = 1;
		buf_wipe_free(&s->msg);
	}
}

static void
cmd_data(struct smtp_session *s, size_t arglen)
{
	if (arglen != 0) {
		error_reply(s, "501 5.5.4 DATA takes no argument");
		return;
	}
	if (!s->have_mail) {
		error_reply(s, "503 5.5.1 Need MAIL before DATA");
		return;
	}
	if (s->nrcpts == 0) {
		error_reply(s, "554 5.5.1 No valid recipients");
		return;
	}
	buf_init_dyn(&s->msg, s->srv->max_size);
	s->phase = PH_DATA;
	lineio_set_line_max(&s->lio, SMTP_TEXT_LINE_MAX);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* ---- the rest ---- */

static void
cmd_ehlo(struct smtp_session *s, enum smtp_verb v, size_t arglen)
{
	struct smtp_server *srv = s->srv;

	if (arglen == 0) {
		error_reply(s, "501 5.5.4 Syntax: %s hostname", v == SMTP_EHLO ? "EHLO" : "HELO");
		return;
	}
	transaction_reset(s);
	s->ehlo = 1;
	if (v == SMTP_HELO) {
		reply(s, "250 %s", srv->hostname);
		return;
	}
	s->esmtp = 1;
	reply(s, "250-%s greets you", srv->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)srv->max_size);
	reply(s, "250-8BITMIME");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-AUTH PLAIN LOGIN");
	reply(s, "250 HELP");
}

static void
command(struct smtp_session *s, const uint8_t *line, size_t n)
{
	struct smtp_cmd c;

	if (smtp_parse_command(line, n, &c) != 0) {
		error_reply(s, "500 5.5.2 Syntax error");
		return;
	}
	if (n > SMTP_CMD_LINE_MAX && c.verb != SMTP_AUTH) {
		error_reply(s, "500 5.5.2 Line too long");
		return;
	}
	switch (c.verb) {
	case SMTP_EHLO:
	case SMTP_HELO:
		cmd_ehlo(s, c.verb, c.arg_len);
		break;
	case SMTP_AUTH:
		cmd_auth(s, c.arg, c.arg_len);
		break;
	case SMTP_MAIL:
		cmd_mail(s, c.arg, c.arg_len);
		break;
	case SMTP_RCPT:
		cmd_rcpt(s, c.arg, c.arg_len);
		break;
	case SMTP_DATA:
		cmd_data(s, c.arg_len);
		break;
	case SMTP_RSET:
		if (c.arg_len != 0) {
			error_reply(s, "501 5.5.4 RSET takes no argument");
			break;
		}
		transaction_reset(s);
		reply(s, "250 2.0.0 Reset");
		break;
	case SMTP_NOOP:
		reply(s, "250 2.0.0 OK");
		break;
	case SMTP_QUIT:
		reply(s, "221 2.0.0 %s closing connection", s->srv->hostname);
		listener_conn_close(s->conn);
		break;
	case SMTP_VRFY:
		if (c.arg_len == 0)
			error_reply(s, "501 5.5.4 Syntax: VRFY address");
		else
			reply(s, "252 2.1.5 Cannot verify; send the mail and RCPT will say");
		break;
	case SMTP_HELP:
		reply(s, "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
		break;
	case SMTP_EXPN:
	case SMTP_BDAT:
		error_reply(s, "502 5.5.1 Command not implemented");
		break;
	case SMTP_STARTTLS:
		error_reply(s, "502 5.5.1 STARTTLS not available: the bridge listens on loopback only");
		break;
	default:
		error_reply(s, "500 5.5.2 Command not recognized");
		break;
	}
}

static void
line_too_long(struct smtp_session *s)
{
	switch (s->phase) {
	case PH_DATA:
		s->msg_long_line = 1;
		break;
	case PH_COMMAND:
		error_reply(s, "500 5.5.2 Line too long");
		break;
	default:
		s->phase = PH_COMMAND;
		error_reply(s, "500 5.5.6 Authentication exchange line is too long");
		break;
	}
}

size_t
smtp_session_read(void *session, const uint8_t *p, size_t n)
{
	struct smtp_session *s = session;
	struct lineio_item it;
	struct cur c;
	enum phase was;

	cur_init(&c, p, n);
	while (!s->waiting && s->conn != NULL && !listener_conn_closing(s->conn)) {
		if (lineio_next(&s->lio, &c, &it) == LINEIO_MORE)
			break;
		if (it.ev == LINEIO_TOO_LONG) {
			line_too_long(s);
			continue;
		}
		if (it.ev != LINEIO_LINE)
			continue;
		was = s->phase;
		switch (s->phase) {
		case PH_DATA:
			data_line(s, it.p, it.len);
			break;
		case PH_AUTH_PLAIN:
			auth_plain_response(s, it.p, it.len);
			break;
		case PH_AUTH_LOGIN_USER:
			auth_login_user(s, it.p, it.len);
			break;
		case PH_AUTH_LOGIN_PASS:
			auth_login_pass(s, it.p, it.len);
			break;
		default:
			command(s, it.p, it.len);
			break;
		}
		/* A command line may have carried credentials (AUTH): wipe the reader's copy
		 * (the listener wipes its read buffer itself). */
		if (was != PH_DATA)
			lineio_wipe_line(&s->lio);
	}
	return cur_pos(&c);
}
