/*
 * The IMAP engine's connection side: framing commands (lines and literals, with caps),
 * the state machine, login (LOGIN, AUTHENTICATE PLAIN), IDLE, and keeping the client's
 * view of the selected folder in step with the store.
 */
#include "imap/imap_session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "bridge/auth.h"
#include "imap/imap_fetch.h"
#include "imap/imap_str.h"
#include "bridge/sasl.h"

/* a decoded AUTHENTICATE PLAIN response: two names, two NULs and a password */
#define IMAP_SASL_MAX (2 * SOTTO_ADDRESS_MAX + BRIDGE_PASSWORD_MAX + 2)
#define IMAP_OUT_KEEP (256 * 1024)     /* output buffer kept between responses */

void
imap_result_set(struct imap_result *r, const char *status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

void
imap_out_discard(struct imap_session *s)
{
	if (s->out.p != NULL)
		sodium_memzero(s->out.p, s->out.len);
	buf_reset(&s->out);
}

void
imap_out_flush(struct imap_session *s)
{
	if (buf_status(&s->out) != 0) {
		/* a response did not fit: never send half of one */
		imap_out_discard(s);
		imap_put_raw(&s->out, "* BYE Response too large\r\n");
		if (!s->done)
			(void)s->host.write(s->host.arg, s->out.p, s->out.len);
		s->done = 1;
		s->state = IMAP_LOGOUT;
		s->host.close(s->host.arg);
	} else if (s->out.len > 0 && !s->done &&
	    s->host.write(s->host.arg, s->out.p, s->out.len) != 0) {
		s->done = 1;
	}
	imap_out_discard(s);
	if (s->out.cap > IMAP_OUT_KEEP) {
		/* do not keep a whole message's worth of memory per idle connection */
		size_t max = s->out.max;
		buf_wipe_free(&s->out);
		buf_init_dyn(&s->out, max);
	}
}

static void
out_line(struct imap_session *s, const char *line)
{
	imap_put_raw(&s->out, line);
	buf_put(&s->out, "\r\n", 2);
}

void
imap_capabilities(struct buf *out, enum imap_state st)
{
	imap_put_raw(out, "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS UNSELECT MOVE SPECIAL-USE");
	if (st == IMAP_NOAUTH)
		imap_put_raw(out, " AUTH=PLAIN");
}

static void
tagged(struct imap_session *s, const uint8_t *tag, size_t taglen, const struct imap_result *r)
{
	buf_put(&s->out, tag, taglen);
	buf_u8(&s->out, ' ');
	imap_put_raw(&s->out, r->status);
	buf_u8(&s->out, ' ');
	out_line(s, r->text);
}

static void
bye(struct imap_session *s, const char *why)
{
	imap_put_raw(&s->out, "* BYE ");
	out_line(s, why);
	imap_out_flush(s);
	s->done = 1;
	s->state = IMAP_LOGOUT;
	s->host.close(s->host.arg);
}

int
imap_folder_resolve(struct imap_session *s, const struct imap_str *name,
    char out[MAILSTORE_FOLDER_MAX + 1])
{
	struct mailstore_folder f[MAILSTORE_FOLDERS_MAX];
	size_t n, i;

	if (imap_is(name, "INBOX")) {
		strcpy(out, "INBOX");
		return 0;
	}
	if (s->ms->ops->folders(s->ms->impl, f, MAILSTORE_FOLDERS_MAX, &n) != 0)
		return SOTTO_ERR_STORAGE;
	for (i = 0; i < n; i++) {
		if (strlen(f[i].name) == name->len && memcmp(f[i].name, name->p, name->len) == 0) {
			strcpy(out, f[i].name);
			return 0;
		}
	}
	return SOTTO_ERR_NOT_FOUND;
}

void
imap_view_clear(struct imap_session *s)
{
	free(s->v.uid);
	free(s->v.flags);
	memset(&s->v, 0, sizeof(s->v));
	s->folder[0] = 0;
	if (s->state == IMAP_SELECTED)
		s->state = IMAP_AUTH;
}

static int
view_push(struct imap_view *v, uint32_t uid, uint32_t flags)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 64;
		uint32_t *nu = realloc(v->uid, ncap * sizeof(*nu));
		uint32_t *nf;
		if (nu == NULL)
			return SOTTO_ERR_NOMEM;
		v->uid = nu;
		if ((nf = realloc(v->flags, ncap * sizeof(*nf))) == NULL)
			return SOTTO_ERR_NOMEM;
		v->flags = nf;
		v->cap = ncap;
	}
	v->uid[v->n] = uid;
	v->flags[v->n] = flags;
	v->n++;
	return 0;
}

void
imap_view_sync(struct imap_session *s, int allow_expunge)
{
	struct mailstore_msg *list = NULL;
	size_t n = 0, i, j, before = s->v.n;
	uint32_t maxuid = s->v.n ? s->v.uid[s->v.n - 1] : 0;

	if (s->state != IMAP_SELECTED)
		return;
	if (s->ms->ops->list(s->ms->impl, s->folder, &list, &n) != 0)
		return;
	/* both sorted by UID: walk them together */
	for (i = 0, j = 0; i < s->v.n; i++) {
		while (j < n && list[j].uid < s->v.uid[i])
			j++;
		if (j < n && list[j].uid == s->v.uid[i]) {
			uint32_t old = s->v.flags[i] & MAILSTORE_FLAGS_ALL;
			if (!(s->v.flags[i] & IMAP_VIEW_GONE) && old != list[j].flags) {
				s->v.flags[i] = list[j].flags;
				buf_u8(&s->out, '*');
				buf_u8(&s->out, ' ');
				imap_put_u64(&s->out, i + 1);
				imap_put_raw(&s->out, " FETCH (FLAGS ");
				imap_put_flags(&s->out, list[j].flags);
				imap_put_raw(&s->out, ")\r\n");
			}
		} else {
			s->v.flags[i] |= IMAP_VIEW_GONE;
		}
	}
	for (j = 0; j < n; j++)
		if (list[j].uid > maxuid && view_push(&s->v, list[j].uid, list[j].flags) != 0)
			break;
	free(list);
	if (allow_expunge) {
		/* highest first, so each reported number is still right when the client applies it */
		for (i = s->v.n; i-- > 0;) {
			if (!(s->v.flags[i] & IMAP_VIEW_GONE))
				continue;
			buf_put(&s->out, "* ", 2);
			imap_put_u64(&s->out, i + 1);
			imap_put_raw(&s->out, " EXPUNGE\r\n");
			if (i < before)
				before--;
		}
		for (i = 0, j = 0; i < s->v.n; i++) {
			if (s->v.flags[i] & IMAP_VIEW_GONE)
				continue;
			s->v.uid[j] = s->v.uid[i];
			s->v.flags[j] = s->v.flags[i];
			j++;
		}
		s->v.n = j;
	}
	if (s->v.n != before) {
		buf_put(&s->out, "* ", 2);
		imap_put_u64(&s->out, s->v.n);
		imap_put_raw(&s->out, " EXISTS\r\n");
	}
}

int
imap_session_new(struct imap_session **out, const struct imap_config *cfg,
    struct mailstore *ms, const struct imap_host *host)
{
	struct imap_session *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (cfg != NULL)
		s->cfg = *cfg;
	if (s->cfg.line_max == 0)
		s->cfg.line_max = 64 * 1024;
	if (s->cfg.literal_max == 0)
		s->cfg.literal_max = 26u * 1024 * 1024;
	if (s->cfg.command_max == 0)
		s->cfg.command_max = (size_t)s->cfg.literal_max + 1024 * 1024;
	if (s->cfg.auth_failures_max == 0)
		s->cfg.auth_failures_max = 3;
	if (s->cfg.out_high == 0)
		s->cfg.out_high = 4u << 20;
	s->ms = ms;
	s->host = *host;
	lineio_init(&s->lio, s->cfg.line_max, s->cfg.literal_max);
	buf_init_dyn(&s->cmd, s->cfg.command_max);
	/* the largest response is one message's data, written as a literal, plus framing */
	buf_init_dyn(&s->out, s->cfg.command_max * 2 + 4096);
	*out = s;
	return 0;
}

void
imap_session_free(struct imap_session *s)
{
	if (s == NULL)
		return;
	imap_fetch_job_free(s->fetch_job);
	imap_view_clear(s);
	lineio_free(&s->lio);
	buf_wipe_free(&s->cmd);     /* may hold a password */
	buf_wipe_free(&s->out);    /* may hold decrypted mail */
	free(s);
}

void
imap_session_start(struct imap_session *s)
{
	imap_put_raw(&s->out, "* OK [CAPABILITY ");
	imap_capabilities(&s->out, s->state);
	out_line(s, "] Sotto IMAP bridge ready");
	imap_out_flush(s);
}

int
imap_session_done(const struct imap_session *s)
{
	return s->done;
}

void
imap_session_changed(struct imap_session *s)
{
	if (s->done || s->in != IMAP_IN_IDLE || s->state != IMAP_SELECTED)
		return;
	imap_view_sync(s, 1);
	imap_out_flush(s);
}

static void
login_result(struct imap_session *s, int rc, struct imap_result *r)
{
	if (rc == 0) {
		s->state = IMAP_AUTH;
		imap_result_set(r, "OK", "[CAPABILITY IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS "
		    "UNSELECT MOVE SPECIAL-USE] Logged in");
	} else if (rc == SOTTO_ERR_AUTH) {
		imap_result_set(r, "NO", "[AUTHENTICATIONFAILED] Invalid credentials");
		s->auth_failures++;
	} else if (rc == SOTTO_ERR_LIMIT) {
		imap_result_set(r, "NO", "[UNAVAILABLE] Too many failed logins, try later");
		s->auth_failures++;
	} else {
		imap_result_set(r, "NO", "[UNAVAILABLE] Temporary authentication failure");
	}
}

/* Returns 1 if the check went on in the background (the answer comes later). */
static int
do_login(struct imap_session *s, const uint8_t *user, size_t ulen, const uint8_t *pass,
    size_t plen, struct imap_result *r)
{
	int rc = SOTTO_ERR_AUTH;

	if (ulen > 0 && ulen <= SOTTO_ADDRESS_MAX && plen <= BRIDGE_PASSWORD_MAX)
		rc = s->host.login(s->host.arg, user, ulen, pass, plen);
	if (rc == IMAP_LOGIN_PENDING) {
		s->login_pending = 1;
		return 1;
	}
	login_result(s, rc, r);
	return 0;
}

/* AUTHENTICATE PLAIN response (RFC 4616) in base64; 1 if the check went on. */
static int
auth_plain(struct imap_session *s, const uint8_t *b64, size_t n, struct imap_result *r)
{
	uint8_t dec[IMAP_SASL_MAX];     /* secret: holds the password */
	struct sasl_plain sp;
	size_t dlen = 0;
	int pending = 0;

	if (sasl_b64_decode(b64, n, dec, sizeof(dec), &dlen) != 0)
		imap_result_set(r, "BAD", "Invalid base64");
	else if (sasl_plain_parse(dec, dlen, SOTTO_ADDRESS_MAX, BRIDGE_PASSWORD_MAX, &sp) != 0)
		imap_result_set(r, "BAD", "Malformed PLAIN response");
	else
		pending = do_login(s, sp.authcid, sp.authcid_len, sp.passwd, sp.passwd_len, r);
	sodium_memzero(dec, sizeof(dec));
	return pending;
}

/* Commands whose untagged EXPUNGE must wait (RFC 3501 section 7.4.1). */
static int
defers_expunge(const struct imap_str *name, int uid)
{
	return !uid && (imap_is(name, "FETCH") || imap_is(name, "STORE") ||
	    imap_is(name, "SEARCH"));
}

static int
save_tag(struct imap_session *s, const struct imap_str *tag)
{
	if (tag->len > IMAP_TAG_MAX)
		return 0;
	memcpy(s->tag, tag->p, tag->len);
	s->tag[tag->len] = 0;
	return 1;
}

/* Where each command is allowed (RFC 3501 section 6); anything else is unknown. */
enum cmd_state { CS_ANY, CS_NOAUTH, CS_AUTH, CS_SELECTED, CS_UNKNOWN };

static const struct {
	const char *name;
	enum cmd_state st;
} commands[] = {
	{ "CAPABILITY", CS_ANY }, { "NOOP", CS_ANY }, { "LOGOUT", CS_ANY },
	{ "LOGIN", CS_NOAUTH }, { "AUTHENTICATE", CS_NOAUTH }, { "STARTTLS", CS_NOAUTH },
	{ "SELECT", CS_AUTH }, { "EXAMINE", CS_AUTH }, { "CREATE", CS_AUTH },
	{ "DELETE", CS_AUTH }, { "RENAME", CS_AUTH }, { "SUBSCRIBE", CS_AUTH },
	{ "UNSUBSCRIBE", CS_AUTH }, { "LIST", CS_AUTH }, { "LSUB", CS_AUTH },
	{ "STATUS", CS_AUTH }, { "APPEND", CS_AUTH }, { "IDLE", CS_AUTH },
	{ "CHECK", CS_SELECTED }, { "CLOSE", CS_SELECTED }, { "UNSELECT", CS_SELECTED },
	{ "EXPUNGE", CS_SELECTED }, { "SEARCH", CS_SELECTED }, { "FETCH", CS_SELECTED },
	{ "STORE", CS_SELECTED }, { "COPY", CS_SELECTED }, { "MOVE", CS_SELECTED },
};

static enum cmd_state
command_state(const struct imap_str *name, int uid)
{
	size_t i;

	if (uid && !imap_is(name, "FETCH") && !imap_is(name, "STORE") &&
	    !imap_is(name, "SEARCH") && !imap_is(name, "COPY") && !imap_is(name, "MOVE") &&
	    !imap_is(name, "EXPUNGE"))
		return CS_UNKNOWN;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (imap_is(name, commands[i].name))
			return commands[i].st;
	return CS_UNKNOWN;
}

/* 1 if the command may run in this state; otherwise r holds the BAD that says why. */
static int
command_allowed(const struct imap_session *s, const struct imap_str *name, int uid,
    struct imap_result *r)
{
	enum cmd_state st = command_state(name, uid);
	/* the name is an atom (printable ASCII, no spaces): safe to echo, capped */
	int n = name->len > 40 ? 40 : (int)name->len;
	const char *u = uid ? "UID " : "";

	if (st == CS_UNKNOWN) {
		imap_result_set(r, "BAD", "Unknown command %s%.*s", u, n, (const char *)name->p);
		return 0;
	}
	if (imap_is(name, "STARTTLS")) {
		/* not advertised: there is no TLS on loopback (docs/MAILCLIENT.md, fetchmail) */
		imap_result_set(r, "BAD", "STARTTLS is not available: the bridge listens on "
		    "loopback only and has no TLS");
		return 0;
	}
	if (s->state == IMAP_LOGOUT) {
		imap_result_set(r, "BAD", "Logging out");
		return 0;
	}
	if (st == CS_ANY)
		return 1;
	if (st == CS_NOAUTH && s->state != IMAP_NOAUTH) {
		imap_result_set(r, "BAD", "Already logged in");
		return 0;
	}
	if (st != CS_NOAUTH && s->state == IMAP_NOAUTH) {
		imap_result_set(r, "BAD", "Log in first: %s%.*s needs LOGIN or AUTHENTICATE", u, n,
		    (const char *)name->p);
		return 0;
	}
	if (st == CS_SELECTED && s->state != IMAP_SELECTED) {
		imap_result_set(r, "BAD", "No mailbox selected: %s%.*s needs SELECT or EXAMINE "
		    "first", u, n, (const char *)name->p);
		return 0;
	}
	return 1;
}

static void
run_command(struct imap_session *s, const uint8_t *cmd, size_t len)
{
	struct imap_parser p;
	struct imap_result r;
	struct imap_str tag, name = { NULL, 0 }, a, b;
	int uid = 0, wipe = 0;

	if (imap_parser_init(&p, cmd, len) != 0) {
		bye(s, "Out of memory");
		return;
	}
	if (!imap_tag(&p, &tag) || !imap_sp(&p)) {
		out_line(s, "* BAD Missing tag");
		goto out;
	}
	imap_result_set(&r, "BAD", "Expected a command");
	if (!imap_atom(&p, &name))
		goto done;
	if (imap_is(&name, "UID")) {
		uid = 1;
		imap_result_set(&r, "BAD", "Expected a command after UID");
		if (!imap_sp(&p) || !imap_atom(&p, &name))
			goto done;
	}
	if (!command_allowed(s, &name, uid, &r))
		goto done;
	imap_result_set(&r, "BAD", "Invalid arguments for %s", imap_is(&name, "LOGIN") ||
	    imap_is(&name, "AUTHENTICATE") ? "login" : "this command");
	if (imap_is(&name, "CAPABILITY") && imap_eol(&p)) {
		imap_put_raw(&s->out, "* CAPABILITY ");
		imap_capabilities(&s->out, s->state);
		buf_put(&s->out, "\r\n", 2);
		imap_result_set(&r, "OK", "CAPABILITY completed");
	} else if (imap_is(&name, "NOOP") || imap_is(&name, "CHECK")) {
		if (imap_eol(&p))
			imap_result_set(&r, "OK", "Done");
	} else if (imap_is(&name, "LOGOUT") && imap_eol(&p)) {
		out_line(s, "* BYE Logging out");
		imap_result_set(&r, "OK", "LOGOUT completed");
		s->state = IMAP_LOGOUT;
	} else if (imap_is(&name, "LOGIN")) {
		wipe = 1;
		if (!save_tag(s, &tag))
			imap_result_set(&r, "BAD", "Tag too long");
		else if (imap_sp(&p) && imap_astring(&p, &a) && imap_sp(&p) &&
		    imap_astring(&p, &b) && imap_eol(&p)) {
			if (do_login(s, a.p, a.len, b.p, b.len, &r))
				goto out;
		} else
			imap_result_set(&r, "BAD", "LOGIN needs a user name and a password");
	} else if (imap_is(&name, "AUTHENTICATE")) {
		wipe = 1;
		if (!save_tag(s, &tag)) {
			imap_result_set(&r, "BAD", "Tag too long");
		} else if (!imap_sp(&p) || !imap_atom(&p, &a) || !imap_is(&a, "PLAIN")) {
			imap_result_set(&r, "NO", "Only AUTHENTICATE PLAIN is supported");
		} else if (imap_sp(&p) && imap_atom(&p, &b) && imap_eol(&p)) {
			/* SASL-IR: the response came with the command */
			if (auth_plain(s, b.p, b.len, &r))
				goto out;
		} else if (imap_eol(&p) && save_tag(s, &tag)) {
			s->in = IMAP_IN_AUTH_PLAIN;
			out_line(s, "+ ");
			goto out;
		} else {
			imap_result_set(&r, "BAD", "Malformed AUTHENTICATE");
		}
	} else if (imap_is(&name, "LIST") || imap_is(&name, "LSUB")) {
		imap_cmd_list(s, &p, &r, imap_is(&name, "LSUB"));
	} else if (imap_is(&name, "SELECT") || imap_is(&name, "EXAMINE")) {
		imap_cmd_select(s, &p, &r, imap_is(&name, "EXAMINE"));
	} else if (imap_is(&name, "STATUS")) {
		imap_cmd_status(s, &p, &r);
	} else if (imap_is(&name, "APPEND")) {
		imap_cmd_append(s, &p, &r);
	} else if (imap_is(&name, "SUBSCRIBE") || imap_is(&name, "UNSUBSCRIBE")) {
		char f[MAILSTORE_FOLDER_MAX + 1];
		if (!imap_sp(&p) || !imap_astring(&p, &a) || !imap_eol(&p))
			imap_result_set(&r, "BAD", "Expected a mailbox");
		else if (imap_folder_resolve(s, &a, f) != 0)
			imap_result_set(&r, "NO", "No such mailbox");
		else
			imap_result_set(&r, "OK", "Every folder is subscribed");
	} else if (imap_is(&name, "CREATE") || imap_is(&name, "DELETE") ||
	    imap_is(&name, "RENAME")) {
		imap_result_set(&r, "NO", "[CANNOT] The folders are fixed");
	} else if (imap_is(&name, "IDLE")) {
		if (!imap_eol(&p) || !save_tag(s, &tag)) {
			imap_result_set(&r, "BAD", "Malformed IDLE");
		} else {
			s->in = IMAP_IN_IDLE;
			imap_view_sync(s, 1);
			out_line(s, "+ idling");
			goto out;
		}
	} else if (imap_is(&name, "CLOSE") || imap_is(&name, "UNSELECT")) {
		if (imap_eol(&p)) {
			if (imap_is(&name, "CLOSE") && !s->readonly)
				imap_cmd_expunge(s, &p, &r, 0, 1);
			imap_view_clear(s);
			imap_result_set(&r, "OK", "Closed");
		}
	} else if (imap_is(&name, "FETCH")) {
		/* a FETCH that would queue too much output pauses until the queue drains */
		if (imap_cmd_fetch(s, &p, &r, uid, save_tag(s, &tag))) {
			s->fetch_uid = uid;
			goto out;
		}
	} else if (imap_is(&name, "STORE")) {
		imap_cmd_store(s, &p, &r, uid);
	} else if (imap_is(&name, "SEARCH")) {
		imap_cmd_search(s, &p, &r, uid);
	} else if (imap_is(&name, "COPY")) {
		imap_cmd_copy(s, &p, &r, uid, 0);
	} else if (imap_is(&name, "MOVE")) {
		imap_cmd_copy(s, &p, &r, uid, 1);
	} else if (imap_is(&name, "EXPUNGE")) {
		imap_cmd_expunge(s, &p, &r, uid, 0);
	}
done:
	if (s->state == IMAP_SELECTED)
		imap_view_sync(s, !defers_expunge(&name, uid));
	tagged(s, tag.p, tag.len, &r);
	if (s->auth_failures >= s->cfg.auth_failures_max)
		bye(s, "Too many failed logins");
	else if (s->state == IMAP_LOGOUT) {
		imap_out_flush(s);
		s->done = 1;
		s->host.close(s->host.arg);
	}
out:
	if (wipe) {
		sodium_memzero(p.scratch, p.scratch_cap);
		sodium_memzero(s->cmd.p, s->cmd.len);
		lineio_wipe_line(&s->lio);
	}
	imap_parser_free(&p);
}

/* A line ending in "{N}" or "{N+}" announces a literal; returns 1 and sets n and plus. */
static int
literal_marker(const uint8_t *line, size_t len, uint64_t *n, int *plus)
{
	struct cur c, m;
	size_t brace = SIZE_MAX, digits = 0;
	uint64_t v = 0;
	int b;

	cur_init(&c, line, len);
	while ((b = scan_byte(&c)) >= 0)
		if (b == '{')
			brace = cur_pos(&c) - 1;
	if (brace == SIZE_MAX)
		return 0;
	m = scan_sub(&c, brace + 1, len - brace - 1);
	while ((b = cur_peek(&m)) >= '0' && b <= '9') {
		(void)scan_byte(&m);
		if (++digits > 19)
			return 0;
		v = v * 10 + (uint64_t)(b - '0');
	}
	*plus = scan_accept(&m, '+');
	if (digits == 0 || !scan_accept(&m, '}') || cur_left(&m) != 0)
		return 0;
	*n = v;
	return 1;
}

static void
refuse_command(struct imap_session *s, const char *why)
{
	struct imap_parser p;
	struct imap_str tag;

	/* answer with the tag the command began with, if it had one */
	if (imap_parser_init(&p, s->cmd.p, s->cmd.len) == 0 && imap_tag(&p, &tag)) {
		buf_put(&s->out, tag.p, tag.len);
		buf_u8(&s->out, ' ');
	} else {
		buf_put(&s->out, "* ", 2);
	}
	imap_parser_free(&p);
	imap_put_raw(&s->out, "BAD ");
	out_line(s, why);
	sodium_memzero(s->cmd.p, s->cmd.len);
	buf_reset(&s->cmd);
}

static void
on_line(struct imap_session *s, const uint8_t *line, size_t len)
{
	struct imap_result r;
	uint64_t n;
	int plus;

	if (s->in == IMAP_IN_IDLE) {
		s->in = IMAP_IN_COMMAND;
		if (len == 4 && strncasecmp((const char *)line, "DONE", 4) == 0)
			imap_result_set(&r, "OK", "IDLE terminated");
		else
			imap_result_set(&r, "BAD", "Expected DONE");
		imap_view_sync(s, 1);
		tagged(s, (const uint8_t *)s->tag, strlen(s->tag), &r);
		return;
	}
	if (s->in == IMAP_IN_AUTH_PLAIN) {
		s->in = IMAP_IN_COMMAND;
		if (len == 1 && line[0] == '*') {
			imap_result_set(&r, "BAD", "AUTHENTICATE cancelled");
		} else if (auth_plain(s, line, len, &r)) {
			lineio_wipe_line(&s->lio);
			return;
		}
		lineio_wipe_line(&s->lio);
		tagged(s, (const uint8_t *)s->tag, strlen(s->tag), &r);
		if (s->auth_failures >= s->cfg.auth_failures_max)
			bye(s, "Too many failed logins");
		return;
	}
	buf_put(&s->cmd, line, len);
	buf_put(&s->cmd, "\r\n", 2);
	if (buf_status(&s->cmd) != 0 || (s->state == IMAP_NOAUTH &&
	    s->cmd.len > IMAP_COMMAND_MAX_PREAUTH)) {
		s->cmd.err = 0;
		if (literal_marker(line, len, &n, &plus) && plus) {
			bye(s, "Command too long");
			return;
		}
		refuse_command(s, "Command too long");
		return;
	}
	if (literal_marker(line, len, &n, &plus)) {
		uint64_t cap = s->state == IMAP_NOAUTH ? IMAP_LITERAL_MAX_PREAUTH :
		    s->cfg.literal_max;
		if (n > cap || n > s->cfg.command_max - s->cmd.len || (s->state == IMAP_NOAUTH &&
		    n > IMAP_COMMAND_MAX_PREAUTH - s->cmd.len) ||
		    lineio_expect_literal(&s->lio, n) != 0) {
			/* LITERAL+ data is already on its way and cannot be told apart from
			 * commands: the only safe answer is to hang up */
			if (plus)
				bye(s, "[TOOBIG] Literal too large");
			else
				refuse_command(s, "[TOOBIG] Literal too large");
			return;
		}
		if (!plus) {
			out_line(s, "+ Ready for literal data");
			imap_out_flush(s);
		}
		return;
	}
	run_command(s, s->cmd.p, s->cmd.len);
	buf_reset(&s->cmd);
}

size_t
imap_session_feed(struct imap_session *s, const uint8_t *p, size_t n)
{
	struct lineio_item it;
	struct cur in;

	cur_init(&in, p, n);
	while (!s->done && !s->login_pending && !s->blocked && s->fetch_job == NULL) {
		switch (lineio_next(&s->lio, &in, &it)) {
		case LINEIO_MORE:
			goto out;
		case LINEIO_TOO_LONG:
			if (s->in != IMAP_IN_COMMAND) {
				s->in = IMAP_IN_COMMAND;
				imap_put_raw(&s->out, s->tag);
				out_line(s, " BAD Line too long");
			} else {
				refuse_command(s, "Line too long");
			}
			break;
		case LINEIO_LITERAL:
			buf_put(&s->cmd, it.p, it.len);
			break;
		case LINEIO_LITERAL_END:
			break;
		case LINEIO_LINE:
			on_line(s, it.p, it.len);
			if (imap_backlogged(s))
				s->blocked = 1;
			break;
		}
	}
out:
	imap_out_flush(s);
	/* after the end, whatever else the peer sends is dropped */
	return s->done ? n : cur_pos(&in);
}

int
imap_backlogged(const struct imap_session *s)
{
	return s->host.backlog != NULL && s->host.backlog(s->host.arg) > s->cfg.out_high;
}

int
imap_session_drained(struct imap_session *s)
{
	struct imap_result r;

	if (s->done || s->login_pending || (!s->blocked && s->fetch_job == NULL))
		return 0;
	if (s->fetch_job != NULL) {
		if (imap_fetch_job_resume(s, &r)) {
			imap_out_flush(s);
			return 0;
		}
		imap_view_sync(s, s->fetch_uid);
		tagged(s, (const uint8_t *)s->tag, strlen(s->tag), &r);
		imap_out_flush(s);
	}
	s->blocked = imap_backlogged(s);
	return !s->blocked && !s->done;
}

int
imap_session_waiting(const struct imap_session *s)
{
	return s->login_pending;
}

void
imap_session_login_done(struct imap_session *s, int result)
{
	struct imap_result r;

	if (!s->login_pending)
		return;
	s->login_pending = 0;
	if (result == IMAP_LOGIN_PENDING)
		result = SOTTO_ERR_INTERNAL;
	login_result(s, result, &r);
	tagged(s, (const uint8_t *)s->tag, strlen(s->tag), &r);
	if (s->auth_failures >= s->cfg.auth_failures_max)
		bye(s, "Too many failed logins");
	imap_out_flush(s);
}
