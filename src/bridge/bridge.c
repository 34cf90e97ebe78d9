#include "bridge/bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "imap/imap_server.h"
#include "bridge/listener.h"
#include "mail/mail_content.h"
#include "mail/mail_group.h"
#include "mail/mail_sender.h"
#include "mail/mailstore_store.h"
#include "smtp/smtp.h"
#include "sotto/group.h"
#include "wire/address.h"

#define BRIDGE_HISTORY_BATCH 64
#define BRIDGE_ASM_PENDING 32
#define BRIDGE_ASM_BYTES (4u * MAIL_CONTENT_MAX)
#define BRIDGE_RECONNECT_MS 2000
#define BRIDGE_RESCAN_MS 5000 /* history written by another process (sotto receive) */
#define BRIDGE_CONNECT_TIMEOUT_MS 10000
#define BRIDGE_PART_MAX_AGE 86400       /* seconds a mail may stay incomplete */
#define BRIDGE_LOOKUP_TIMEOUT_MS 5000   /* RCPT: connecting and asking, each */
#define BRIDGE_RCPT_CACHE 32            /* recipients known to exist, */
#define BRIDGE_RCPT_CACHE_MS 60000      /* for this long */
#define BRIDGE_IDKEY_LEN 32

/* One submitted mail: its recipients' callbacks, filled on the loop thread, the results
 * filled by the client thread. */
struct bridge_slot {
	smtp_deliver_done done;
	void *ctx;
	enum smtp_deliver_result r;
	char reason[SMTP_REASON_MAX];
};

/* One RCPT to check with the server: asked on the loop thread, answered by the client
 * thread. */
struct bridge_lookup {
	char addr[SOTTO_ADDRESS_MAX + 1];
	char group[2 * SOTTO_GROUP_ID_MAX + 1]; /* a group's address: its id; else "" */
	smtp_rcpt_done done;
	void *ctx;
	enum smtp_rcpt_verdict v;
	char reason[SMTP_REASON_MAX];
	struct bridge_lookup *next;
};

struct bridge_rcpt_known {
	char addr[SOTTO_ADDRESS_MAX + 1];
	uint64_t until;                 /* now_ms() */
};

struct bridge_group {
	const struct smtp_mail *mail;
	size_t n, filled;
	struct bridge_slot *slots;
	struct bridge_group *next;
};

struct bridge {
	uv_loop_t *loop;
	struct sotto *s;                /* the client thread's */
	struct mailstore *ms;
	char user[SOTTO_ADDRESS_MAX + 1];
	const char *domain;             /* inside user */
	struct bridge_auth *auth;
	struct smtp_server *smtp;
	struct imap_server *imap;
	uint16_t smtp_port, imap_port;
	struct bridge_group *collecting;        /* loop thread only */
	struct bridge_rcpt_known known[BRIDGE_RCPT_CACHE];      /* loop thread only */
	/* secret: keys the mail ids of our copies (mail_id), written before the thread starts */
	uint8_t idkey[BRIDGE_IDKEY_LEN];

	pthread_t thread;
	int thread_started;
	int wake[2];                    /* pipe: the loop wakes the client thread */
	uv_async_t async;               /* the client thread wakes the loop */
	int async_open;

	pthread_mutex_t lock;           /* guards what follows */
	struct bridge_group *todo, *todo_tail;
	struct bridge_group *done, *done_tail;
	struct bridge_lookup *ask, *ask_tail;
	struct bridge_lookup *answered, *answered_tail;
	int stopping;
	int poked;                      /* read the history now */
	int send_only;                  /* set at start */

	/* stopping, on the loop thread */
	int servers_left;
	void (*stop_done)(void *);
	void *stop_arg;
};

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
group_free(struct bridge_group *g)
{
	if (g == NULL)
		return;
	free(g->slots);
	free(g);
}

static void
queue_push(struct bridge_group **head, struct bridge_group **tail, struct bridge_group *g)
{
	g->next = NULL;
	if (*tail != NULL)
		(*tail)->next = g;
	else
		*head = g;
	*tail = g;
}

static void
wake_thread(struct bridge *b)
{
	ssize_t w;

	do
		w = write(b->wake[1], "x", 1);
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full, so the thread is awake anyway */
}

/* Lowercases an address into out; 0 if it has the form name@domain. */
static int
normalise(const char *addr, char out[SOTTO_ADDRESS_MAX + 1], const char **domain)
{
	size_t i, n = strlen(addr);
	const char *at;

	if (n == 0 || n > SOTTO_ADDRESS_MAX)
		return SOTTO_ERR_MALFORMED;
	for (i = 0; i <= n; i++)
		out[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] + 32) : addr[i];
	if ((at = strrchr(out, '@')) == NULL)
		return SOTTO_ERR_MALFORMED;
	*domain = at + 1;
	return 0;
}

/* ---- SMTP backend (loop thread) ---- */

static void
lookup_push(struct bridge_lookup **head, struct bridge_lookup **tail, struct bridge_lookup *l)
{
	l->next = NULL;
	if (*tail != NULL)
		(*tail)->next = l;
	else
		*head = l;
	*tail = l;
}

/* Recipients the server said exist, for a minute: a mail to several people, or one
 * retried, asks once. Only positive answers are kept, and not for long (an account can go
 * away). */
static int
known_has(struct bridge *b, const char *addr)
{
	uint64_t now = now_ms();
	size_t i;

	for (i = 0; i < BRIDGE_RCPT_CACHE; i++)
		if (b->known[i].until > now && strcmp(b->known[i].addr, addr) == 0)
			return 1;
	return 0;
}

static void
known_add(struct bridge *b, const char *addr)
{
	size_t i, slot = 0;

	for (i = 0; i < BRIDGE_RCPT_CACHE; i++) {
		if (strcmp(b->known[i].addr, addr) == 0) {
			slot = i;
			break;
		}
		if (b->known[i].until < b->known[slot].until)
			slot = i;       /* the oldest (or an empty one) goes */
	}
	memcpy(b->known[slot].addr, addr, strlen(addr) + 1);
	b->known[slot].until = now_ms() + BRIDGE_RCPT_CACHE_MS;
}

static void
be_check_rcpt(void *arg, const char *addr, smtp_rcpt_done done, void *ctx)
{
	struct bridge *b = arg;
	struct bridge_lookup *l;
	char a[SOTTO_ADDRESS_MAX + 1], gid[2 * SOTTO_GROUP_ID_MAX + 1];
	char gdom[SOTTO_ADDRESS_MAX + 1];
	const char *dom;
	int group;

	if (normalise(addr, a, &dom) != 0) {
		done(ctx, SMTP_RCPT_UNKNOWN, "not a valid address");
		return;
	}
	if (strcmp(dom, b->domain) != 0) {
		done(ctx, SMTP_RCPT_NOT_SOTTO, NULL);
		return;
	}
	/* a group's address is checked against our groups, never remembered (we may leave) */
	group = sotto_group_address_parse(a, gid, gdom) == 0;
	if (!group && address_user_check(a, strlen(a)) != 0) {
		done(ctx, SMTP_RCPT_UNKNOWN, "not a valid Sotto address");
		return;
	}
	if (!group && known_has(b, a)) {
		done(ctx, SMTP_RCPT_OK, NULL);
		return;
	}
	/* the server is asked by the client thread, which owns the connection */
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		done(ctx, SMTP_RCPT_TEMPFAIL, "out of memory");
		return;
	}
	memcpy(l->addr, a, strlen(a) + 1);
	if (group)
		memcpy(l->group, gid, strlen(gid) + 1);
	l->done = done;
	l->ctx = ctx;
	pthread_mutex_lock(&b->lock);
	lookup_push(&b->ask, &b->ask_tail, l);
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
}

/* A group that never got all its recipients: each one that did gets its answer. */
static void
drop_collecting(struct bridge *b)
{
	struct bridge_group *g = b->collecting;
	size_t i;

	b->collecting = NULL;
	if (g == NULL)
		return;
	for (i = 0; i < g->n; i++)
		if (g->slots[i].done != NULL)
			g->slots[i].done(g->slots[i].ctx, SMTP_DELIVER_TEMPFAIL, "internal error");
	group_free(g);
}

/* The engine calls this for recipients 0..n-1 in one go; the whole mail goes to the
 * client thread once the last one is in, so Sent gets it after every copy is out. */
static void
be_deliver(void *arg, const struct smtp_mail *mail, size_t rcpt, smtp_deliver_done done,
    void *ctx)
{
	struct bridge *b = arg;
	struct bridge_group *g = b->collecting;

	if (rcpt == 0) {
		/* the engine hands over all recipients at once, so a group left over was cut
		 * short: its recipients still get their answer */
		drop_collecting(b);
		if ((g = calloc(1, sizeof(*g))) == NULL ||
		    (g->slots = calloc(mail->nrcpts, sizeof(*g->slots))) == NULL) {
			free(g);
			done(ctx, SMTP_DELIVER_TEMPFAIL, "out of memory");
			return;
		}
		g->mail = mail;
		g->n = mail->nrcpts;
		b->collecting = g;
	}
	/* a recipient whose mail could not be collected (out of memory at rcpt 0) */
	if (g == NULL || g->mail != mail || rcpt >= g->n || g->slots[rcpt].done != NULL) {
		done(ctx, SMTP_DELIVER_TEMPFAIL, "internal error");
		return;
	}
	g->slots[rcpt].done = done;
	g->slots[rcpt].ctx = ctx;
	if (++g->filled < g->n)
		return;
	b->collecting = NULL;
	pthread_mutex_lock(&b->lock);
	queue_push(&b->todo, &b->todo_tail, g);
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
}

/* Results from the client thread. */
static void
on_async(uv_async_t *h)
{
	struct bridge *b = h->data;
	struct bridge_group *g, *next;
	struct bridge_lookup *l, *lnext;
	size_t i;

	pthread_mutex_lock(&b->lock);
	g = b->done;
	b->done = b->done_tail = NULL;
	l = b->answered;
	b->answered = b->answered_tail = NULL;
	pthread_mutex_unlock(&b->lock);
	for (; l != NULL; l = lnext) {
		lnext = l->next;
		if (l->v == SMTP_RCPT_OK && l->group[0] == '\0')
			known_add(b, l->addr);
		l->done(l->ctx, l->v, l->reason[0] ? l->reason : NULL);
		free(l);
	}
	for (; g != NULL; g = next) {
		next = g->next;
		for (i = 0; i < g->n; i++)
			g->slots[i].done(g->slots[i].ctx, g->slots[i].r,
			    g->slots[i].reason[0] ? g->slots[i].reason : NULL);
		group_free(g);
	}
}

/* ---- client thread: recipients ---- */

/* A group's address: accepted for a group we are a member of, from our own store. */
static void
group_rcpt(struct bridge *b, struct bridge_lookup *l)
{
	struct sotto_group *v = NULL;
	size_t n = 0, i;
	int r;

	if ((r = sotto_groups(b->s, &v, &n)) != 0) {
		l->v = SMTP_RCPT_TEMPFAIL;
		snprintf(l->reason, sizeof(l->reason), "could not read your groups (%s)",
		    sotto_strerror(r));
		return;
	}
	l->v = SMTP_RCPT_UNKNOWN;
	snprintf(l->reason, sizeof(l->reason), "no group of yours has this address (`sotto "
	    "group list` shows them); nothing will be sent to it");
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].id, l->group) != 0)
			continue;
		if (v[i].status == SOTTO_GROUP_MEMBER) {
			l->v = SMTP_RCPT_OK;
			l->reason[0] = '\0';
		} else
			snprintf(l->reason, sizeof(l->reason), "you are no longer a member of this "
			    "group; nothing will be sent to it");
	}
	free(v);
}

/* Answers the RCPT checks asked meanwhile, connecting first if need be (and, beside the
 * daemon's connection, disconnecting afterwards). A recipient that could not be checked
 * is 451, never 250. A group's address needs no connection. Returns 1 if it connected. */
static int
serve_lookups(struct bridge *b)
{
	struct bridge_lookup *head, *tail, *l;
	int connected = 0, cr = 0, tried = 0, r;

	pthread_mutex_lock(&b->lock);
	head = b->ask;
	tail = b->ask_tail;
	b->ask = b->ask_tail = NULL;
	pthread_mutex_unlock(&b->lock);
	if (head == NULL)
		return 0;
	for (l = head; l != NULL; l = l->next) {
		if (l->group[0] != '\0') {
			group_rcpt(b, l);
			continue;
		}
		if (!tried && sotto_fd(b->s) < 0) {
			if ((cr = sotto_connect(b->s, BRIDGE_LOOKUP_TIMEOUT_MS)) == 0)
				connected = 1;
			else
				fprintf(stderr, "sotto bridge: cannot reach %s to check a recipient:"
				    " %s\n", sotto_server(b->s), sotto_strerror(cr));
		}
		tried = 1;
		r = cr != 0 ? cr : sotto_lookup(b->s, l->addr, BRIDGE_LOOKUP_TIMEOUT_MS);
		switch (r) {
		case 0:
			l->v = SMTP_RCPT_OK;
			break;
		case SOTTO_ERR_NOT_FOUND:
		case SOTTO_ERR_UNKNOWN_USER:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "no such user on this Sotto server;"
			    " nothing will be sent to this address");
			break;
		case SOTTO_ERR_OTHER_DOMAIN:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "this Sotto server delivers only to"
			    " addresses of its own domain");
			break;
		case SOTTO_ERR_INVALID_ARG:
		case SOTTO_ERR_BAD_ADDRESS:
		case SOTTO_ERR_MALFORMED:
			l->v = SMTP_RCPT_UNKNOWN;
			snprintf(l->reason, sizeof(l->reason), "not a valid Sotto address");
			break;
		default:
			l->v = SMTP_RCPT_TEMPFAIL;
			snprintf(l->reason, sizeof(l->reason), "could not ask the Sotto server"
			    " whether this user exists (%s)", sotto_strerror(r));
			cr = r;         /* the others would wait for the same failure */
			break;
		}
	}
	pthread_mutex_lock(&b->lock);
	if (b->answered_tail != NULL)
		b->answered_tail->next = head;
	else
		b->answered = head;
	b->answered_tail = tail;
	pthread_mutex_unlock(&b->lock);
	uv_async_send(&b->async);
	if (connected && b->send_only)
		sotto_disconnect(b->s);
	return connected;
}

/* ---- client thread: sending ---- */

/*
 * The id of our copy of a mail for one recipient: a keyed hash, under a key only this
 * client holds (BRIDGE_SETTING_IDKEY), of the recipient and the exact bytes of the copy.
 * The same mail submitted again (a mail program retrying after a 4xx whose parts partly
 * went out, or were left in the outbox) gets the same id, and the receiving bridge files
 * a mail id once. It is the whole mail, not just its Message-ID, because parts are put
 * together by id: two different mails under one id could be mixed part by part. Without
 * the key, nobody can tell from an id which mail it is or predict another's.
 */
static int
mail_id(const struct bridge *b, const char *addr, const uint8_t *mail, size_t len,
    uint8_t id[MAIL_CONTENT_ID_LEN])
{
	static const char label[] = "sotto bridge mail id v1";
	crypto_generichash_state st;
	size_t alen = strlen(addr);
	uint8_t n[2] = { (uint8_t)(alen >> 8), (uint8_t)alen };
	int r;

	r = crypto_generichash_init(&st, b->idkey, sizeof(b->idkey), MAIL_CONTENT_ID_LEN);
	if (r == 0)
		r = crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	if (r == 0)
		r = crypto_generichash_update(&st, n, sizeof(n));
	if (r == 0)
		r = crypto_generichash_update(&st, (const uint8_t *)addr, alen);
	if (r == 0)
		r = crypto_generichash_update(&st, mail, len);
	if (r == 0)
		r = crypto_generichash_final(&st, id, MAIL_CONTENT_ID_LEN);
	sodium_memzero(&st, sizeof(st));
	return r == 0 ? 0 : SOTTO_ERR_INTERNAL;
}

static enum smtp_deliver_result
send_copy(struct bridge *b, const char *to, const uint8_t *mail, size_t len, char *reason,
    size_t rcap)
{
	uint8_t id[MAIL_CONTENT_ID_LEN], msgid[SOTTO_ID_LEN];
	char addr[SOTTO_ADDRESS_MAX + 1], gid[2 * SOTTO_GROUP_ID_MAX + 1];
	char gdom[SOTTO_ADDRESS_MAX + 1];
	const char *dom;
	struct buf part;
	uint32_t count, i;
	int r, group;

	if (normalise(to, addr, &dom) != 0) {
		snprintf(reason, rcap, "not a valid address");
		return SMTP_DELIVER_PERMFAIL;
	}
	/* a group's address: one group message per part, whoever is in the group */
	group = sotto_group_address_parse(addr, gid, gdom) == 0;
	if ((r = mail_content_count(len, &count)) != 0) {
		snprintf(reason, rcap, "message too large for the store");
		return SMTP_DELIVER_PERMFAIL;
	}
	if (mail_id(b, addr, mail, len, id) != 0) {
		snprintf(reason, rcap, "internal error");
		return SMTP_DELIVER_TEMPFAIL;
	}
	buf_init_dyn(&part, MAIL_CONTENT_HEADER + MAIL_CONTENT_CHUNK);
	for (i = 0, r = 0; i < count && r == 0; i++) {
		if ((r = mail_content_part(id, mail, len, i, &part)) == 0)
			r = group ? sotto_group_send_mail(b->s, gid, part.p, part.len, msgid) :
			    sotto_send_mail(b->s, addr, part.p, part.len, msgid);
	}
	buf_wipe_free(&part);
	if (group && (r == SOTTO_ERR_NOT_FOUND || r == SOTTO_ERR_STATE)) {
		snprintf(reason, rcap, r == SOTTO_ERR_STATE ? "you are no longer a member of this"
		    " group" : "no group of yours has this address");
		return SMTP_DELIVER_PERMFAIL;
	}
	switch (r) {
	case 0:
		return SMTP_DELIVER_OK;
	case SOTTO_ERR_NOT_FOUND:
	case SOTTO_ERR_UNKNOWN_USER:
		snprintf(reason, rcap, "no such Sotto user");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_OTHER_DOMAIN:
		snprintf(reason, rcap, "not a domain this Sotto server delivers to");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_UNTRUSTED_IDENTITY:
		snprintf(reason, rcap, "the recipient's key changed after you verified it;"
		    " check it, then run `sotto trust`");
		return SMTP_DELIVER_PERMFAIL;
	case SOTTO_ERR_MALFORMED:
	case SOTTO_ERR_INVALID_ARG:
	case SOTTO_ERR_BAD_ADDRESS:
		snprintf(reason, rcap, "not a valid Sotto address");
		return SMTP_DELIVER_PERMFAIL;
	default:
		snprintf(reason, rcap, "%s", sotto_strerror(r));
		return SMTP_DELIVER_TEMPFAIL;
	}
}

static void
send_group(struct bridge *b, struct bridge_group *g)
{
	const struct smtp_mail *m = g->mail;
	size_t i, ok = 0;
	int r;

	for (i = 0; i < g->n; i++) {
		g->slots[i].r = send_copy(b, m->rcpts[i], m->copy, m->copy_len,
		    g->slots[i].reason, sizeof(g->slots[i].reason));
		if (g->slots[i].r == SMTP_DELIVER_OK)
			ok++;
		(void)serve_lookups(b);         /* other clients' RCPTs wait at most one copy */
	}
	/* Sent holds what the user submitted, Bcc included, once every copy is out. */
	if (ok == g->n && ok > 0) {
		r = b->ms->ops->append(b->ms->impl, "Sent", m->original, m->original_len,
		    MAILSTORE_SEEN, (int64_t)time(NULL), NULL);
		if (r != 0)
			fprintf(stderr, "sotto bridge: could not file the sent mail in Sent: %s\n",
			    sotto_strerror(r));
	}
}

/* ---- client thread: receiving ---- */

struct receiver {
	struct mail_asm *asm_;
	struct mail_progress prog;      /* as stored */
	int64_t scan;                   /* history row read up to, in this run */
};

static int
progress_save_with(struct bridge *b, struct receiver *rc, const uint8_t *mail, size_t len,
    int64_t date)
{
	struct buf enc;
	int r;

	buf_init_dyn(&enc, 16 + MAIL_DONE_MAX * MAIL_CONTENT_ID_LEN);
	if ((r = mail_progress_encode(&rc->prog, &enc)) == 0)
		r = mailstore_store_deliver(b->ms, "INBOX", mail, len, 0, date,
		    BRIDGE_SETTING_PROGRESS, enc.p, enc.len, NULL);
	buf_free(&enc);
	return r;
}

static int
receiver_load(struct bridge *b, struct receiver *rc)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	memset(rc, 0, sizeof(*rc));
	if ((r = mail_asm_new(&rc->asm_, BRIDGE_ASM_PENDING, BRIDGE_ASM_BYTES)) != 0)
		return r;
	r = mailstore_store_setting_get(b->ms, BRIDGE_SETTING_PROGRESS, &v, &len);
	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	r = mail_progress_decode(v, len, &rc->prog);
	mailstore_store_setting_free(v, len);
	if (r != 0)
		return r;
	rc->scan = rc->prog.row;
	return 0;
}

/* The mail (id) as it is to be filed, found at history row `row`: filed in INBOX with the
 * new progress. */
static int
file_bytes(struct bridge *b, struct receiver *rc, const uint8_t id[MAIL_CONTENT_ID_LEN],
    int64_t row, const uint8_t *mail, size_t len, int64_t date)
{
	struct mail_progress saved = rc->prog;
	int64_t oldest = mail_asm_oldest_row(rc->asm_);
	int r;

	mail_progress_add(&rc->prog, id);
	/* replay must start before the first part of any mail still in progress */
	rc->prog.row = oldest != INT64_MAX && oldest - 1 < row ? oldest - 1 : row;
	r = progress_save_with(b, rc, mail, len, date);
	if (r == SOTTO_ERR_TOO_LARGE || r == SOTTO_ERR_INVALID_ARG) {
		/* it will never fit: skip it for good rather than stall every later mail */
		struct buf enc;

		fprintf(stderr, "sotto bridge: a mail of %zu bytes cannot be stored, dropped\n",
		    len);
		buf_init_dyn(&enc, 16 + MAIL_DONE_MAX * MAIL_CONTENT_ID_LEN);
		if ((r = mail_progress_encode(&rc->prog, &enc)) == 0)
			r = mailstore_store_setting_put(b->ms, BRIDGE_SETTING_PROGRESS, enc.p,
			    enc.len);
		buf_free(&enc);
	}
	if (r != 0)
		rc->prog = saved;
	return r;
}

/* The group of history message m as the mail mapping names it; 0, or -1 if m is no group
 * message or its group has no address. */
static int
group_of(const struct bridge *b, const struct sotto_message *m, struct mail_group *g,
    char address[SOTTO_ADDRESS_MAX + 1])
{
	if (m->group[0] == '\0' || sotto_group_address(m->group, b->domain, address) != 0)
		return -1;
	g->address = address;
	g->id_hex = m->group;
	g->name = m->group_name;
	return 0;
}

/* A complete mail from m's sender (the address its session or its group authenticated):
 * filed in INBOX with the new progress, unless it was filed before. Its From: shows the
 * sender whatever it claimed (mail_sender.h); a group's mail gets the group's fields
 * (mail_group.h), and a 1:1 mail loses an X-Sotto-Group field it claimed. */
static int
file_mail(struct bridge *b, struct receiver *rc, const struct sotto_message *m,
    const struct mail_part *p, const uint8_t *mail, size_t len)
{
	char gaddr[SOTTO_ADDRESS_MAX + 1];
	struct mail_group g;
	struct buf fixed, grouped;
	int r, rewritten = 0, changed = 0;

	if (mail_progress_has(&rc->prog, p->id))
		return 0;
	buf_init_dyn(&fixed, (size_t)len + MAIL_SENDER_GROWTH);
	buf_init_dyn(&grouped, (size_t)len + MAIL_SENDER_GROWTH + MAIL_GROUP_GROWTH);
	if ((r = mail_sender_rewrite(mail, len, m->peer, &fixed, &rewritten)) != 0)
		goto out;
	if (rewritten) {
		fprintf(stderr, "sotto bridge: a mail from %s claimed another sender; it is filed "
		    "as from %s (X-Sotto-Claimed-From holds the claim)\n", m->peer, m->peer);
		mail = fixed.p;
		len = fixed.len;
	}
	/* a group's mail gets the group's fields; a 1:1 mail may not claim one */
	if ((r = mail_group_file(group_of(b, m, &g, gaddr) == 0 ? &g : NULL, mail, len,
	    &grouped, &changed)) != 0)
		goto out;
	if (changed) {
		mail = grouped.p;
		len = grouped.len;
	}
	r = file_bytes(b, rc, p->id, m->row, mail, len, (int64_t)m->time);
out:
	buf_wipe_free(&fixed);
	buf_wipe_free(&grouped);
	return r;
}

/* A member's text in a group (`sotto group send`), or a change to the group in words
 * from the member who made it, filed as a mail (mail_group.h) under its entry's id. */
static int
file_group_text(struct bridge *b, struct receiver *rc, const struct sotto_message *m)
{
	char gaddr[SOTTO_ADDRESS_MAX + 1];
	const char *names[SOTTO_GROUP_ADD_MAX];
	const uint8_t *text = m->body;
	size_t len = m->body_len, n;
	char *change = NULL, *names_buf = NULL;
	struct mail_group g;
	struct buf mail;
	int r;

	if (mail_progress_has(&rc->prog, m->id) || group_of(b, m, &g, gaddr) != 0)
		return 0;
	if (m->content == SOTTO_CONTENT_GROUP_EVENT) {
		if ((names_buf = malloc(SOTTO_GROUP_CHANGE_TEXT_MAX)) == NULL)
			return SOTTO_ERR_NOMEM;
		n = sotto_group_change_names(m, names_buf, SOTTO_GROUP_CHANGE_TEXT_MAX, names,
		    SOTTO_GROUP_ADD_MAX);
		len = sotto_group_change_text(m->change, m->peer, names, n, m->expiry, NULL, 0);
		if ((change = malloc(len + 1)) == NULL) {
			free(names_buf);
			return SOTTO_ERR_NOMEM;
		}
		sotto_group_change_text(m->change, m->peer, names, n, m->expiry, change, len + 1);
		text = (const uint8_t *)change;
	}
	buf_init_dyn(&mail, 2 * len + MAIL_GROUP_GROWTH);
	if ((r = mail_group_text(&g, m->peer[0] != '\0' ? m->peer : gaddr, m->id, m->time, text,
	    len, &mail)) == 0)
		r = file_bytes(b, rc, m->id, m->row, mail.p, mail.len, (int64_t)m->time);
	buf_wipe_free(&mail);
	free(change);
	free(names_buf);
	return r;
}

/* Filing failed: read again from the stored progress next time; nothing is lost. */
static void
receive_failed(struct receiver *rc, int r)
{
	fprintf(stderr, "sotto bridge: could not file a mail in INBOX: %s\n", sotto_strerror(r));
	mail_asm_free(rc->asm_);
	rc->asm_ = NULL;
	if (mail_asm_new(&rc->asm_, BRIDGE_ASM_PENDING, BRIDGE_ASM_BYTES) != 0)
		rc->asm_ = NULL;
	rc->scan = rc->prog.row;
}

/* Reads new history and files every mail it completes. */
static void
receive_scan(struct bridge *b, struct receiver *rc)
{
	struct sotto_message *v = NULL;
	struct mail_part p;
	uint8_t *mail;
	size_t n, i, len;
	int r;

	for (;;) {
		if ((r = sotto_history(b->s, NULL, rc->scan, BRIDGE_HISTORY_BATCH, &v, &n)) != 0) {
			fprintf(stderr, "sotto bridge: reading history: %s\n", sotto_strerror(r));
			return;
		}
		for (i = 0; i < n; i++) {
			const struct sotto_message *m = &v[i];

			rc->scan = m->row;
			if (m->dir != SOTTO_IN)
				continue;
			if (m->content == SOTTO_CONTENT_TEXT ||
			    m->content == SOTTO_CONTENT_GROUP_EVENT) {
				if (m->group[0] != '\0' && (r = file_group_text(b, rc, m)) != 0) {
					receive_failed(rc, r);
					sotto_history_free(v, n);
					return;
				}
				continue;
			}
			if (m->content != SOTTO_CONTENT_MAIL)
				continue;
			if (mail_content_parse(m->body, m->body_len, &p) != 0) {
				fprintf(stderr, "sotto bridge: dropped a malformed mail part from %s\n",
				    m->peer);
				continue;
			}
			/* a part of a mail filed already (the sender retried it, or its outbox
			 * sent a part late): it would only start a mail that never completes */
			if (mail_progress_has(&rc->prog, p.id))
				continue;
			r = mail_asm_add(rc->asm_, m->peer, m->row, m->time, &p, &mail, &len);
			if (r < 0) {
				fprintf(stderr, "sotto bridge: dropped a mail from %s: %s\n", m->peer,
				    sotto_strerror(r));
				continue;
			}
			if (r == 0)
				continue;
			r = file_mail(b, rc, m, &p, mail, len);
			sodium_memzero(mail, len);
			free(mail);
			if (r != 0) {
				receive_failed(rc, r);
				sotto_history_free(v, n);
				return;
			}
		}
		sotto_history_free(v, n);
		v = NULL;
		if (n < BRIDGE_HISTORY_BATCH)
			break;
	}
	/* a mail whose sender stopped half way would hold the progress back for ever */
	if (mail_asm_expire(rc->asm_, (uint64_t)time(NULL) - BRIDGE_PART_MAX_AGE) > 0)
		fprintf(stderr, "sotto bridge: dropped mail left incomplete for a day\n");
}

static void *
client_thread(void *arg)
{
	struct bridge *b = arg;
	struct receiver rc;
	uint64_t next_connect = 0, next_scan = 0;
	int scan = 1, r, stopping = 0;

	if ((r = receiver_load(b, &rc)) != 0) {
		/* sending still works; receiving waits for a restart */
		fprintf(stderr, "sotto bridge: cannot read the bridge's progress, not filing"
		    " received mail: %s\n", sotto_strerror(r));
		mail_asm_free(rc.asm_);
		rc.asm_ = NULL;
	}
	sotto_set_auto_receipts(b->s, 0);
	while (!stopping) {
		struct pollfd pfd[2];
		struct bridge_group *g;
		int fd = sotto_fd(b->s), nfd = 1, timeout;
		uint64_t now = now_ms();
		char c[64];

		if (serve_lookups(b)) {
			scan = 1;
			fd = sotto_fd(b->s);
		}
		if (fd < 0 && now >= next_connect && !b->send_only) {
			if ((r = sotto_connect(b->s, BRIDGE_CONNECT_TIMEOUT_MS)) != 0) {
				fprintf(stderr, "sotto bridge: cannot reach %s: %s\n",
				    sotto_server(b->s), sotto_strerror(r));
				next_connect = now_ms() + BRIDGE_RECONNECT_MS;
			}
			fd = sotto_fd(b->s);
			scan = 1;
		}
		if (fd >= 0 && (r = sotto_poll(b->s, 0, NULL, NULL)) != 0) {
			if (r > 0)
				scan = 1;
			else if (r != SOTTO_ERR_TIMEOUT)
				fprintf(stderr, "sotto bridge: receiving: %s\n", sotto_strerror(r));
		}
		if (scan || now_ms() >= next_scan) {
			if (rc.asm_ != NULL)
				receive_scan(b, &rc);
			scan = 0;
			next_scan = now_ms() + BRIDGE_RESCAN_MS;
		}

		pthread_mutex_lock(&b->lock);
		g = b->todo;
		b->todo = b->todo_tail = NULL;
		stopping = b->stopping;
		if (b->poked) {
			b->poked = 0;
			pthread_mutex_unlock(&b->lock);
			if (rc.asm_ != NULL)
				receive_scan(b, &rc);
			next_scan = now_ms() + BRIDGE_RESCAN_MS;
			pthread_mutex_lock(&b->lock);
		}
		pthread_mutex_unlock(&b->lock);
		if (g != NULL) {
			while (g != NULL) {
				struct bridge_group *next = g->next;
				send_group(b, g);
				pthread_mutex_lock(&b->lock);
				queue_push(&b->done, &b->done_tail, g);
				pthread_mutex_unlock(&b->lock);
				uv_async_send(&b->async);
				g = next;
			}
			/* the other connection of the account takes the pushes back (the server
			 * pushes to the newest one) */
			if (b->send_only)
				sotto_disconnect(b->s);
			scan = 1;
			continue;       /* a send may have read what the server pushed meanwhile */
		}
		if (stopping)
			break;

		fd = sotto_fd(b->s);
		pfd[0].fd = b->wake[0];
		pfd[0].events = POLLIN;
		if (fd >= 0) {
			pfd[1].fd = fd;
			pfd[1].events = POLLIN;
			nfd = 2;
		}
		now = now_ms();
		timeout = fd >= 0 || b->send_only ? (int)(next_scan > now ? next_scan - now : 0) :
		    (int)(next_connect > now ? next_connect - now : 0);
		if (poll(pfd, (nfds_t)nfd, timeout) > 0 && (pfd[0].revents & POLLIN))
			while (read(b->wake[0], c, sizeof(c)) > 0)
				;
	}
	mail_asm_free(rc.asm_);
	sodium_memzero(&rc.prog, sizeof(rc.prog));
	return NULL;
}

/* ---- start and stop ---- */

static void
free_bridge(struct bridge *b)
{
	struct bridge_lookup *l;

	/* none is left once the servers stopped (a session waits for its answer) */
	while ((l = b->ask) != NULL) {
		b->ask = l->next;
		free(l);
	}
	sodium_memzero(b->idkey, sizeof(b->idkey));
	if (b->wake[0] >= 0)
		close(b->wake[0]);
	if (b->wake[1] >= 0)
		close(b->wake[1]);
	bridge_auth_free(b->auth);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void
on_async_closed(uv_handle_t *h)
{
	struct bridge *b = h->data;
	void (*done)(void *) = b->stop_done;
	void *arg = b->stop_arg;

	free_bridge(b);
	if (done != NULL)
		done(arg);
}

static void
server_stopped(void *arg)
{
	struct bridge *b = arg;

	if (--b->servers_left > 0)
		return;
	/* every delivery has reported: the client thread has nothing left to give back */
	pthread_mutex_lock(&b->lock);
	b->stopping = 1;
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
	if (b->thread_started)
		pthread_join(b->thread, NULL);
	b->thread_started = 0;
	on_async(&b->async);
	sotto_close(b->s);
	b->s = NULL;
	uv_close((uv_handle_t *)&b->async, on_async_closed);
}

void
bridge_poke(struct bridge *b)
{
	pthread_mutex_lock(&b->lock);
	b->poked = 1;
	pthread_mutex_unlock(&b->lock);
	wake_thread(b);
}

void
bridge_stop(struct bridge *b, void (*done)(void *), void *arg)
{
	b->stop_done = done;
	b->stop_arg = arg;
	b->servers_left = 2;
	drop_collecting(b);
	smtp_server_stop(b->smtp, server_stopped, b);
	imap_server_stop(b->imap, server_stopped, b);
}

/* The key of mail_id: made once, kept sealed in the store. */
static int
idkey_load(struct bridge *b)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	r = mailstore_store_setting_get(b->ms, BRIDGE_SETTING_IDKEY, &v, &len);
	if (r == 0) {
		if (len == sizeof(b->idkey))
			memcpy(b->idkey, v, len);
		mailstore_store_setting_free(v, len);
		return len == sizeof(b->idkey) ? 0 : SOTTO_ERR_CORRUPT;
	}
	if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	randombytes_buf(b->idkey, sizeof(b->idkey));
	return mailstore_store_setting_put(b->ms, BRIDGE_SETTING_IDKEY, b->idkey,
	    sizeof(b->idkey));
}

/* Puts p before the text in why (cut to fit). */
static void
prefix(char *why, size_t whylen, const char *p)
{
	char tmp[512];

	if (whylen == 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s%s", p, why);
	snprintf(why, whylen, "%s", tmp);
}

int
bridge_start(struct bridge **out, uv_loop_t *loop, const struct bridge_config *cfg,
    char *why, size_t whylen)
{
	struct bridge *b;
	struct bridge_auth_config ac = cfg->auth;
	struct smtp_config sc;
	struct smtp_backend be;
	struct imap_server_config ic;
	const char *dom;
	int r;

	*out = NULL;
	if (whylen > 0)
		why[0] = '\0';
	if (cfg->sotto == NULL || cfg->ms == NULL || cfg->pw_hash == NULL ||
	    !sotto_registered(cfg->sotto))
		return SOTTO_ERR_INVALID_ARG;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SOTTO_ERR_NOMEM;
	b->wake[0] = b->wake[1] = -1;
	if (pthread_mutex_init(&b->lock, NULL) != 0) {
		free(b);
		return SOTTO_ERR_NOMEM;
	}
	b->loop = loop;
	b->ms = cfg->ms;
	b->send_only = cfg->send_only;
	if ((r = normalise(sotto_address(cfg->sotto), b->user, &dom)) != 0)
		goto fail;
	b->domain = dom;
	if ((r = idkey_load(b)) != 0) {
		snprintf(why, whylen, "the bridge's mail id key: %s", sotto_strerror(r));
		goto fail;
	}
	if (pipe2(b->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		r = SOTTO_ERR_IO;
		goto fail;
	}
	ac.user = b->user;
	ac.pw_hash = cfg->pw_hash;
	if ((r = bridge_auth_new(&b->auth, loop, &ac)) != 0)
		goto fail;

	memset(&sc, 0, sizeof(sc));
	sc.user = b->user;
	sc.max_size = cfg->max_size ? cfg->max_size : MAIL_CONTENT_MAX;
	sc.listen.host = cfg->smtp_host;
	sc.listen.port = cfg->smtp_port;
	be.arg = b;
	be.check_rcpt = be_check_rcpt;
	be.deliver = be_deliver;
	if ((r = smtp_server_start(&b->smtp, loop, &sc, &be, b->auth, why, whylen)) != 0) {
		prefix(why, whylen, "SMTP: ");
		goto fail;
	}
	memset(&ic, 0, sizeof(ic));
	ic.host = cfg->imap_host;
	ic.port = cfg->imap_port;
	ic.auth = b->auth;
	ic.imap.literal_max = sc.max_size;
	if ((r = imap_server_start(&b->imap, loop, cfg->ms, &ic, why, whylen)) != 0) {
		prefix(why, whylen, "IMAP: ");
		smtp_server_stop(b->smtp, NULL, NULL);
		goto fail;
	}
	b->smtp_port = smtp_server_port(b->smtp);
	b->imap_port = imap_server_port(b->imap);
	if ((r = uv_async_init(loop, &b->async, on_async)) != 0) {
		r = SOTTO_ERR_INTERNAL;
		goto fail_servers;
	}
	b->async.data = b;
	b->s = cfg->sotto;
	if (pthread_create(&b->thread, NULL, client_thread, b) != 0) {
		b->s = NULL;
		uv_close((uv_handle_t *)&b->async, NULL);
		r = SOTTO_ERR_NOMEM;
		goto fail_servers;
	}
	b->thread_started = 1;
	*out = b;
	return 0;
fail_servers:
	smtp_server_stop(b->smtp, NULL, NULL);
	imap_server_stop(b->imap, NULL, NULL);
fail:
	if (whylen > 0 && why[0] == '\0')
		snprintf(why, whylen, "%s", sotto_strerror(r));
	free_bridge(b);
	return r;
}

uint16_t
bridge_smtp_port(const struct bridge *b)
{
	return b->smtp_port;
}

uint16_t
bridge_imap_port(const struct bridge *b)
{
	return b->imap_port;
}

/* ---- the bridge on its own thread ---- */

struct bridge_runner {
	uv_loop_t loop;
	uv_async_t stop_async;
	struct bridge *b;
	struct mailstore ms;
	struct bridge_config cfg;
	char hash[BRIDGE_AUTH_HASH_BYTES];
	char smtp_host[64], imap_host[64];
	int created;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state;                      /* 0 starting, 1 running, negative: start failed */
	char why[256];
};

static void
runner_closed(uv_handle_t *h)
{
	(void)h;
}

static void
runner_bridge_stopped(void *arg)
{
	struct bridge_runner *r = arg;

	uv_close((uv_handle_t *)&r->stop_async, runner_closed);
}

static void
runner_on_stop(uv_async_t *h)
{
	struct bridge_runner *r = h->data;

	bridge_stop(r->b, runner_bridge_stopped, r);
}

static void *
runner_thread(void *arg)
{
	struct bridge_runner *r = arg;
	int rc;

	rc = bridge_start(&r->b, &r->loop, &r->cfg, r->why, sizeof(r->why));
	if (rc != 0) {
		sotto_close(r->cfg.sotto);      /* not taken over */
		r->cfg.sotto = NULL;
		uv_close((uv_handle_t *)&r->stop_async, runner_closed);
		uv_run(&r->loop, UV_RUN_DEFAULT);
	}
	pthread_mutex_lock(&r->lock);
	r->state = rc != 0 ? rc : 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (rc == 0)
		uv_run(&r->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void
runner_free(struct bridge_runner *r)
{
	mailstore_destroy(&r->ms);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Both handles under one passphrase: the mail folders, and s for the client thread. */
static int
runner_open(const struct bridge_run_config *cfg, struct mailstore *ms, struct sotto **s)
{
	int r;

	*s = NULL;
	if ((r = mailstore_store_open_home(ms, cfg->home, cfg->pass, cfg->pass_len)) != 0)
		return r;
	if ((r = sotto_open(s, cfg->home, cfg->pass, cfg->pass_len)) != 0) {
		mailstore_destroy(ms);
		return r;
	}
	if (!sotto_registered(*s)) {
		sotto_close(*s);
		mailstore_destroy(ms);
		*s = NULL;
		return SOTTO_ERR_STATE;
	}
	return 0;
}

int
bridge_runner_start(struct bridge_runner **out, const struct bridge_run_config *cfg,
    char *why, size_t whylen)
{
	struct bridge_runner *r;
	char pw[BRIDGE_PASSWORD_CHARS + 1];
	struct sotto *s = NULL;
	uint16_t port;
	int rc;

	*out = NULL;
	if (whylen > 0)
		why[0] = '\0';
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SOTTO_ERR_NOMEM;
	if (pthread_mutex_init(&r->lock, NULL) != 0 || pthread_cond_init(&r->cond, NULL) != 0) {
		free(r);
		return SOTTO_ERR_NOMEM;
	}
	if (listener_parse_addr(cfg->smtp ? cfg->smtp : SMTP_DEFAULT_LISTEN, r->smtp_host,
	    sizeof(r->smtp_host), &port) != 0) {
		snprintf(why, whylen, "SMTP: not HOST:PORT");
		rc = SOTTO_ERR_INVALID_ARG;
		goto fail;
	}
	r->cfg.smtp_host = r->smtp_host;
	r->cfg.smtp_port = port;
	if (listener_parse_addr(cfg->imap ? cfg->imap : BRIDGE_IMAP_DEFAULT_LISTEN, r->imap_host,
	    sizeof(r->imap_host), &port) != 0) {
		snprintf(why, whylen, "IMAP: not HOST:PORT");
		rc = SOTTO_ERR_INVALID_ARG;
		goto fail;
	}
	r->cfg.imap_host = r->imap_host;
	r->cfg.imap_port = port;
	r->cfg.send_only = cfg->send_only;
	if ((rc = runner_open(cfg, &r->ms, &s)) != 0) {
		snprintf(why, whylen, "%s", sotto_strerror(rc));
		goto fail;
	}
	rc = sotto_bridge_password(s, pw, r->hash, &r->created);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0) {
		snprintf(why, whylen, "bridge password: %s", sotto_strerror(rc));
		sotto_close(s);
		goto fail;
	}
	r->cfg.sotto = s;
	r->cfg.ms = &r->ms;
	r->cfg.pw_hash = r->hash;
	if (uv_loop_init(&r->loop) != 0) {
		sotto_close(s);
		rc = SOTTO_ERR_INTERNAL;
		goto fail;
	}
	if (uv_async_init(&r->loop, &r->stop_async, runner_on_stop) != 0) {
		(void)uv_loop_close(&r->loop);
		sotto_close(s);
		rc = SOTTO_ERR_INTERNAL;
		goto fail;
	}
	r->stop_async.data = r;
	if (pthread_create(&r->thread, NULL, runner_thread, r) != 0) {
		uv_close((uv_handle_t *)&r->stop_async, runner_closed);
		uv_run(&r->loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&r->loop);
		sotto_close(s);
		rc = SOTTO_ERR_NOMEM;
		goto fail;
	}
	pthread_mutex_lock(&r->lock);
	while (r->state == 0)
		pthread_cond_wait(&r->cond, &r->lock);
	rc = r->state < 0 ? r->state : 0;
	pthread_mutex_unlock(&r->lock);
	if (rc != 0) {
		pthread_join(r->thread, NULL);
		(void)uv_loop_close(&r->loop);
		snprintf(why, whylen, "%s", r->why);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	runner_free(r);
	return rc;
}

uint16_t
bridge_runner_smtp_port(const struct bridge_runner *r)
{
	return bridge_smtp_port(r->b);
}

uint16_t
bridge_runner_imap_port(const struct bridge_runner *r)
{
	return bridge_imap_port(r->b);
}

const char *
bridge_runner_user(const struct bridge_runner *r)
{
	return r->b->user;
}

int
bridge_runner_new_password(const struct bridge_runner *r)
{
	return r->created;
}

void
bridge_runner_poke(struct bridge_runner *r)
{
	bridge_poke(r->b);
}

void
bridge_runner_stop(struct bridge_runner *r)
{
	if (r == NULL)
		return;
	uv_async_send(&r->stop_async);
	pthread_join(r->thread, NULL);
	(void)uv_loop_close(&r->loop);
	runner_free(r);
}
