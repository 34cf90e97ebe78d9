/*
 * A received MAIL content, inside the transaction that stores the envelope (receive.c).
 * A mail comes as parts (mail/mail_content.h); each part waits in mail_parts until the
 * last one is there. Then, in that same transaction, the whole mail (its From: held to
 * the sender the session authenticated, mail/mail_sender.h) becomes one history entry and
 * INBOX gets a row that refers to it: stored once, in INBOX the moment it is stored.
 * A mail whose history id was seen before (its sender sent it again) is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client_int.h"
#include "client/content.h"
#include "client/group_events.h"
#include "mail/mail_content.h"
#include "mail/mail_group.h"
#include "mail/mail_sender.h"
#include "sotto/group.h"

#define MAIL_IN_FOLDER "INBOX"
#define MAIL_IN_PART_MAX_AGE 86400      /* seconds a mail may stay incomplete */

_Static_assert(MAIL_CONTENT_MAX + MAIL_SENDER_GROWTH + MAIL_GROUP_GROWTH <= STORE_BODY_MAX,
    "a received mail, rewritten, fits one history entry");

int
client_mail_parts_assemble(struct store *st, const char *peer, const uint8_t *id,
    uint8_t **mail, size_t *len)
{
	struct store_mail_part_list l = { NULL, 0 };
	const uint8_t **pv = NULL;
	size_t *lv = NULL, i;
	int r;

	if ((r = store_mail_part_list(st, peer, id, MAIL_CONTENT_ID_LEN, &l)) != 0)
		return r;
	if ((pv = calloc(l.n ? l.n : 1, sizeof(*pv))) == NULL ||
	    (lv = calloc(l.n ? l.n : 1, sizeof(*lv))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		pv[i] = l.v[i].data;
		lv[i] = l.v[i].len;
	}
	r = mail_content_assemble(pv, lv, l.n, mail, len);
	if (r == SOTTO_ERR_MALFORMED)
		r = store_mail_part_delete(st, peer, id, MAIL_CONTENT_ID_LEN);
	else if (r == 1 && (r = store_mail_part_delete(st, peer, id, MAIL_CONTENT_ID_LEN)) == 0)
		r = 1;
out:
	free(pv);
	free(lv);
	store_mail_part_list_free(&l);
	if (r != 1 && *mail != NULL) {
		sodium_memzero(*mail, *len);
		free(*mail);
		*mail = NULL;
		*len = 0;
	}
	return r;
}

int
client_mail_file(struct store *st, const struct store_message *tmpl,
    const struct mail_group *g, const uint8_t *mail, size_t len, struct client_mail_in *out)
{
	struct store_message m = *tmpl;
	struct buf fixed, grouped;
	int64_t row = 0, inbox = 0;
	uint32_t uid = 0;
	int r, rewritten = 0, changed = 0;

	buf_init_dyn(&fixed, len + MAIL_SENDER_GROWTH);
	buf_init_dyn(&grouped, len + MAIL_SENDER_GROWTH + MAIL_GROUP_GROWTH);
	if ((r = mail_sender_rewrite(mail, len, m.peer, &fixed, &rewritten)) != 0) {
		if (r != SOTTO_ERR_NOMEM)
			r = SOTTO_ERR_MALFORMED;        /* never filed: dropped */
		goto out;
	}
	if (rewritten) {
		mail = fixed.p;
		len = fixed.len;
	}
	/* a group's mail gets the group's fields; a 1:1 mail may not claim one */
	if ((r = mail_group_file(g, mail, len, &grouped, &changed)) != 0) {
		if (r != SOTTO_ERR_NOMEM)
			r = SOTTO_ERR_MALFORMED;
		goto out;
	}
	if (changed) {
		mail = grouped.p;
		len = grouped.len;
	}
	m.type = STORE_MSG_MAIL;
	m.body = (uint8_t *)(uintptr_t)mail;
	m.body_len = len;
	if ((r = store_folder_ensure(st, MAIL_IN_FOLDER, &inbox)) != 0 ||
	    (r = store_message_add_row(st, &m, &row)) != 0 ||
	    (r = store_mail_append_msg(st, inbox, 0, m.server_time ? m.server_time :
	    m.local_time, row, len, &uid)) != 0)
		goto out;
	if (out != NULL) {
		if ((out->body = malloc(len + 1)) == NULL) {
			r = SOTTO_ERR_NOMEM;
			goto out;
		}
		memcpy(out->body, mail, len);
		out->body[len] = '\0';
		out->len = len;
		memcpy(out->id, m.id, sizeof(out->id));
		out->claimed_other = rewritten;
	}
out:
	buf_wipe_free(&fixed);
	buf_wipe_free(&grouped);
	return r;
}

int
client_mail_group_text(struct store *st, const struct store_message *m,
    const struct mail_group *g)
{
	struct buf mail;
	int64_t inbox = 0;
	uint32_t uid = 0;
	int r;

	buf_init_dyn(&mail, 2 * m->body_len + MAIL_GROUP_GROWTH);
	if ((r = mail_group_text(g, m->peer, m->id, m->server_time, m->body, m->body_len,
	    &mail)) == 0 && (r = store_folder_ensure(st, MAIL_IN_FOLDER, &inbox)) == 0)
		r = store_mail_append(st, inbox, 0, m->server_time ? m->server_time :
		    m->local_time, mail.p, mail.len, &uid);
	buf_wipe_free(&mail);
	return r;
}

int
client_mail_group_note(struct store *st, const struct store_message *note,
    const struct mail_group *g)
{
	const char *names[SOTTO_GROUP_ADD_MAX];
	struct store_message m = *note;
	struct sotto_message v;
	char *buf = NULL, *text = NULL;
	size_t n, len;
	int r;

	memset(&v, 0, sizeof(v));
	if ((r = client_group_note_history(note, &v)) != 0)
		goto out;
	if ((buf = malloc(SOTTO_GROUP_CHANGE_TEXT_MAX)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	n = sotto_group_change_names(&v, buf, SOTTO_GROUP_CHANGE_TEXT_MAX, names,
	    SOTTO_GROUP_ADD_MAX);
	len = sotto_group_change_text(v.change, note->peer, names, n, v.expiry, NULL, 0);
	if ((text = malloc(len + 1)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	sotto_group_change_text(v.change, note->peer, names, n, v.expiry, text, len + 1);
	m.body = (uint8_t *)text;
	m.body_len = len;
	if (m.peer[0] == '\0')
		snprintf(m.peer, sizeof(m.peer), "%s", g->address);
	r = client_mail_group_text(st, &m, g);
out:
	free(text);
	free(buf);
	free(v.body);
	return r;
}

/* 1: filed; 0: dropped (a duplicate, or a mail that cannot be filed); else an error of
 * ours. */
static int
filed(int r)
{
	return r == 0 ? 1 : r == SOTTO_ERR_EXISTS || r == SOTTO_ERR_MALFORMED ? 0 : r;
}

int
client_mail_receive(struct store *st, const struct store_message *tmpl,
    const struct mail_group *g, struct client_mail_in *out)
{
	struct store_message m = *tmpl;
	struct mail_part p;
	uint8_t *mail = NULL;
	size_t len = 0;
	uint32_t have = 0;
	int r, seen;

	memset(out, 0, sizeof(*out));
	if (mail_content_parse(tmpl->body, tmpl->body_len, &p) != 0) {
		/* a whole mail in one message (sotto_send_mail of an older client) */
		return filed(client_mail_file(st, tmpl, g, tmpl->body, tmpl->body_len, out));
	}
	/* the part's own id is seen now: a redelivery is dropped before it gets here */
	if ((r = store_seen_add(st, tmpl->id, tmpl->local_time)) != 0)
		return r == SOTTO_ERR_EXISTS ? 0 : r;
	mail_content_history_id(tmpl->peer, p.id, m.id);
	if ((seen = store_seen_has(st, m.id)) != 0)
		return seen < 0 ? seen : 0;     /* that mail was filed already */
	if ((r = store_mail_part_expire(st, tmpl->local_time > MAIL_IN_PART_MAX_AGE ?
	    tmpl->local_time - MAIL_IN_PART_MAX_AGE : 0)) != 0)
		return r;
	if (p.count == 1) {
		mail = (uint8_t *)(uintptr_t)p.data;
		len = p.len;
	} else {
		r = store_mail_part_put(st, tmpl->peer, p.id, sizeof(p.id), p.index,
		    tmpl->local_time, tmpl->body, tmpl->body_len);
		if (r != 0 && r != SOTTO_ERR_EXISTS)
			return r;
		/* counted, not opened, until the last one is there: each part is read once */
		if ((r = store_mail_part_count(st, tmpl->peer, p.id, sizeof(p.id), &have)) != 0)
			return r;
		if (have < p.count)
			return 0;
		if ((r = client_mail_parts_assemble(st, tmpl->peer, p.id, &mail, &len)) != 1)
			return r;
	}
	r = client_mail_file(st, &m, g, mail, len, out);
	if (p.count != 1) {
		sodium_memzero(mail, len);
		free(mail);
	}
	return filed(r);
}

void
client_mail_in_free(struct client_mail_in *in)
{
	if (in->body != NULL) {
		sodium_memzero(in->body, in->len);
		free(in->body);
	}
	memset(in, 0, sizeof(*in));
}
