/*
 * Group pushes for sotto_poll (docs/CLIENT.md "Groups"): each GROUP_PUSH processed by the
 * group layer and stored (a text in the history with its group) in one transaction, then
 * acknowledged, then shown. A redelivery after a crash between store and ack is refused
 * by the group layer (its epoch or its secret-tree generation is used up) and dropped
 * silently, as are our own entries coming back.
 */
#include "client/group_api.h"

#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "client/file_transfer.h"
#include "client/group.h"
#include "client/group_events.h"
#include "client/group_net.h"
#include "mail/mail_group.h"
#include "sotto/group.h"

#define GROUP_UNSHOWN_MAX 1024          /* texts taken without a callback, kept to show */
#define GROUP_UNSHOWN "group_unshown"   /* setting: their ids */

/* Errors of our own side (the store, memory): the push is not acknowledged, and comes
 * again. Anything else is the message's: acknowledged and dropped. */
static int
local_failure(int r)
{
	return r == SOTTO_ERR_NOMEM || r == SOTTO_ERR_STORAGE || r == SOTTO_ERR_IO ||
	    r == SOTTO_ERR_CORRUPT || r == SOTTO_ERR_INTERNAL;
}

/* The group's mail fields (mail_group.h) in g, with hex and gaddr as its storage, if the
 * group has a mail address on our domain; else NULL. */
static struct mail_group *
group_mail(struct sotto *s, const struct client_group_event *ge, struct mail_group *g,
    char hex[2 * SOTTO_GROUP_ID_MAX + 1], char gaddr[SOTTO_ADDRESS_MAX + 1])
{
	const char *dom = strrchr(sotto_address(s), '@');

	client_group_id_hex(hex, ge->group_id, ge->group_id_len);
	if (dom == NULL || sotto_group_address(hex, dom + 1, gaddr) != 0)
		return NULL;
	g->address = gaddr;
	g->id_hex = hex;
	g->name = ge->name;
	return g;
}

/* A change of members, name or timer: in the history with the state it made, and each
 * entry filed in INBOX as a short mail in the group's thread, in the open transaction. */
static int
notes_record(struct sotto *s, const struct client_group_event *ge,
    const struct proto_group_push *p, struct client_group_notes *notes)
{
	char hex[2 * SOTTO_GROUP_ID_MAX + 1], gaddr[SOTTO_ADDRESS_MAX + 1];
	struct mail_group g, *gp;
	size_t i;
	int r;

	if ((r = client_group_notes_record(s, ge, p->timestamp / 1000, notes)) != 0)
		return r;
	gp = group_mail(s, ge, &g, hex, gaddr);
	for (i = 0; r == 0 && gp != NULL && i < notes->n; i++)
		r = client_mail_group_note(s->st, &notes->v[i], gp);
	return r;
}
/*
 * A member's text, mail part or file, in the open transaction. A text goes into the
 * history and, as a mail made from it, into INBOX; a mail part is filed like a 1:1 one
 * (mail_in.c), with the group's fields: *shown is 0 while the mail is not whole, and
 * when it is, ge shows the whole mail under its history id. A file goes into the history
 * (its FILE content) and the list of files to fetch, not into INBOX.
 */
static int
store_group_text(struct sotto *s, struct client_group_event *ge,
    const struct proto_group_push *p, int *shown)
{
	char hex[2 * SOTTO_GROUP_ID_MAX + 1], gaddr[SOTTO_ADDRESS_MAX + 1];
	struct client_mail_in in;
	struct store_message m;
	struct mail_group g, *gp = NULL;
	uint64_t now = client_now();
	int r;

	*shown = 1;
	memset(&m, 0, sizeof(m));
	memcpy(m.peer, ge->sender, sizeof(m.peer));
	memcpy(m.id, ge->msg_id, sizeof(m.id));
	m.dir = STORE_DIR_IN;
	m.type = ge->type == CLIENT_GROUP_FILE ? STORE_MSG_FILE :
	    ge->mail ? STORE_MSG_MAIL : STORE_MSG_TEXT;
	m.seq = p->seq;
	m.server_time = p->timestamp / 1000;
	m.local_time = now;
	m.expires_at = ge->expiry ? now + ge->expiry : 0;
	m.body = ge->body;
	m.body_len = ge->body_len;
	memcpy(m.group, ge->group_id, ge->group_id_len);
	m.group_len = ge->group_id_len;
	if (ge->type == CLIENT_GROUP_FILE) {
		if ((r = store_message_add(s->st, &m)) == 0)
			r = file_pending_add(s, ge->msg_id);    /* fetched by sotto_file_fetch */
		return r;
	}
	gp = group_mail(s, ge, &g, hex, gaddr);
	if (!ge->mail) {
		if ((r = store_message_add(s->st, &m)) == 0 && gp != NULL)
			r = client_mail_group_text(s->st, &m, gp);
		return r;
	}
	if ((r = client_mail_receive(s->st, &m, gp, &in)) < 0)
		return r;
	if (r == 0) {
		*shown = 0;
		return 0;
	}
	/* the event shows the whole mail: it takes ge's body's place */
	store_blob_free(ge->body, ge->body_len);
	ge->body = in.body;
	ge->body_len = in.len;
	memcpy(ge->msg_id, in.id, sizeof(ge->msg_id));
	in.body = NULL;
	client_mail_in_free(&in);
	return 0;
}

/* What an event shows of a stored body: a file's caption, not its content (the key). */
static void
shown_body(enum sotto_content content, const uint8_t *p, size_t len, struct sotto_event *ev)
{
	struct content fc;

	ev->content = content;
	ev->body = p;
	ev->body_len = len;
	if (content == SOTTO_CONTENT_FILE) {
		ev->body = NULL;
		ev->body_len = 0;
		if (content_decode(p, len, &fc) == 0) {
			ev->body = fc.body;
			ev->body_len = fc.body_len;
		}
	}
}

/* A member's text, mail part or file, shown. */
static void
emit_text(const struct client_group_event *ge, const struct proto_group_push *p,
    sotto_event_fn cb, void *ctx, int *events)
{
	char gid[2 * SOTTO_GROUP_ID_MAX + 1];
	struct sotto_event ev;

	memset(&ev, 0, sizeof(ev));
	client_group_id_hex(gid, ge->group_id, ge->group_id_len);
	ev.group = gid;
	ev.group_name = ge->name;
	ev.peer = ge->sender;
	memcpy(ev.id, ge->msg_id, sizeof(ev.id));
	ev.time = p->timestamp / 1000;
	ev.sent = ge->sent_ms;
	ev.warnings = (ge->warnings & CLIENT_GROUP_WARN_KEY_CHANGED) ? SOTTO_WARN_KEY_CHANGED : 0;
	ev.type = SOTTO_EVENT_MESSAGE;
	shown_body(ge->type == CLIENT_GROUP_FILE ? SOTTO_CONTENT_FILE : ge->mail ?
	    SOTTO_CONTENT_MAIL : SOTTO_CONTENT_TEXT, ge->body, ge->body_len, &ev);
	ev.expires_at = ge->expiry ? client_now() + ge->expiry : 0;
	(*events)++;
	if (cb != NULL)
		cb(ctx, &ev);
}

/* The changes recorded in the history (group_events.h), shown. */
static void
emit_notes(const struct client_group_notes *notes, const char *group_name, sotto_event_fn cb,
    void *ctx, int *events)
{
	size_t i;

	for (i = 0; i < notes->n && cb != NULL; i++)
		client_group_note_show(&notes->v[i], group_name, cb, ctx, events);
}

/* Appends an entry's id (a text or a change) to the ones to show later, in the open transaction (beyond
 * GROUP_UNSHOWN_MAX, it is in the history only). */
static int
unshown_add(struct sotto *s, const uint8_t id[STORE_MSGID_LEN])
{
	uint8_t *v = NULL, *nv;
	size_t len = 0;
	int r;

	if ((r = store_setting_get(s->st, GROUP_UNSHOWN, &v, &len)) != 0 &&
	    r != SOTTO_ERR_NOT_FOUND)
		return r;
	if (len / STORE_MSGID_LEN >= GROUP_UNSHOWN_MAX) {
		store_blob_free(v, len);
		return 0;
	}
	if ((nv = malloc(len + STORE_MSGID_LEN)) == NULL) {
		store_blob_free(v, len);
		return SOTTO_ERR_NOMEM;
	}
	if (len > 0)
		memcpy(nv, v, len);
	memcpy(nv + len, id, STORE_MSGID_LEN);
	r = store_setting_put(s->st, GROUP_UNSHOWN, nv, len + STORE_MSGID_LEN);
	free(nv);
	store_blob_free(v, len);
	return r;
}

int
client_group_unshown(struct sotto *s, sotto_event_fn cb, void *ctx, int *events)
{
	char gid[2 * SOTTO_GROUP_ID_MAX + 1];
	struct store_message m;
	struct store_group rec;
	struct sotto_event ev;
	uint8_t *v = NULL;
	size_t len = 0, i;
	int r;

	if (cb == NULL)
		return 0;
	if ((r = store_setting_get(s->st, GROUP_UNSHOWN, &v, &len)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;
	for (i = 0; i + STORE_MSGID_LEN <= len; i += STORE_MSGID_LEN) {
		/* gone meanwhile (expired): nothing to show */
		if (store_message_get(s->st, v + i, &m) != 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		memset(&rec, 0, sizeof(rec));
		client_group_id_hex(gid, m.group, m.group_len);
		if (m.group_len > 0 && store_group_get(s->st, m.group, m.group_len, &rec) == 0)
			ev.group_name = rec.name;
		if (m.type == STORE_MSG_GROUP_EVENT) {
			client_group_note_show(&m, ev.group_name, cb, ctx, events);
			store_group_wipe(&rec);
			store_message_wipe(&m);
			continue;
		}
		ev.type = SOTTO_EVENT_MESSAGE;
		shown_body(m.type == STORE_MSG_FILE ? SOTTO_CONTENT_FILE : m.type == STORE_MSG_MAIL ?
		    SOTTO_CONTENT_MAIL : SOTTO_CONTENT_TEXT, m.body, m.body_len, &ev);
		ev.group = gid;
		if (ev.group_name == NULL)
			ev.group_name = "";
		ev.peer = m.peer;
		memcpy(ev.id, m.id, sizeof(ev.id));
		ev.time = m.server_time;
		ev.expires_at = m.expires_at;
		(*events)++;
		cb(ctx, &ev);
		store_group_wipe(&rec);
		store_message_wipe(&m);
	}
	/* Shown, then forgotten: a crash in between shows them again rather than never. */
	r = store_setting_delete(s->st, GROUP_UNSHOWN);
	store_blob_free(v, len);
	return r;
}

/* Our Commit of a member's request to leave (ge a PROPOSAL asking it): sent, then
 * recorded as that member leaving. */
static void
commit_leave(struct sotto *s, struct client_group_event *ge, const struct proto_group_push *p,
    sotto_event_fn cb, void *ctx, int *events)
{
	struct client_group_notes notes = { 0 };
	int r, own;

	if (client_group_commit_leave(s, ge->group_id, ge->group_id_len, ge->sender) != 0)
		return;
	ge->type = CLIENT_GROUP_COMMIT;
	if ((ge->removed.v = calloc(1, sizeof(*ge->removed.v))) == NULL)
		return;
	memcpy(ge->removed.v[0].address, ge->sender, sizeof(ge->removed.v[0].address));
	ge->removed.v[0].left = 1;
	ge->removed.n = 1;
	if (client_tx_begin(s, &own) != 0)
		return;
	r = notes_record(s, ge, p, &notes);
	if (r == 0 && cb == NULL && notes.n > 0)
		r = unshown_add(s, notes.v[0].id);
	if (client_tx_end(s, own, r) == 0)
		emit_notes(&notes, ge->name, cb, ctx, events);
	client_group_notes_free(&notes);
}

/* Marks the group MISSED (unless we are out of it already), in the open transaction. */
static int
mark_missed(struct sotto *s, const struct proto_group_push *p, struct store_group *rec)
{
	int r;

	if ((r = store_group_get(s->st, p->group.id, p->group.len, rec)) != 0)
		return r == SOTTO_ERR_NOT_FOUND ? 0 : r;        /* never joined: nothing to mark */
	if (rec->status >= STORE_GROUP_REMOVED)
		return 0;
	rec->status = STORE_GROUP_MISSED;
	return store_group_put(s->st, rec);
}

/*
 * The server dropped entries of the group before we read them (PROTO_GROUP_MISSED): an
 * MLS member that missed a Commit cannot follow the group again, so it is marked and
 * everything after is dropped unread (client_group_receive refuses it), until a member
 * adds us again with a Welcome.
 */
static int
group_missed(struct sotto *s, const struct proto_group_push *p, sotto_event_fn cb, void *ctx,
    int *events)
{
	char gid[2 * SOTTO_GROUP_ID_MAX + 1];
	struct store_group rec;
	struct proto_group_ack a;
	struct sotto_event ev;
	struct cur c;
	uint64_t n;
	int r, own, acked;

	cur_init(&c, p->data.p, p->data.len);
	n = cur_u64(&c);
	memset(&rec, 0, sizeof(rec));
	if ((r = client_tx_begin(s, &own)) != 0)
		return r;
	r = client_tx_end(s, own, mark_missed(s, p, &rec));
	if (r != 0 && local_failure(r)) {
		store_group_wipe(&rec);
		return r;
	}
	memset(&a, 0, sizeof(a));
	a.group = p->group;
	a.seq = p->seq;
	acked = group_net_received(s->ops, s->t, &a, 1, CLIENT_TIMEOUT_MS);
	memset(&ev, 0, sizeof(ev));
	client_group_id_hex(gid, p->group.id, p->group.len);
	ev.type = SOTTO_EVENT_GROUP;
	ev.change = SOTTO_CHANGE_MISSED;
	ev.group = gid;
	ev.group_name = rec.name;
	ev.peer = "";
	ev.time = p->timestamp / 1000;
	ev.gap = n;
	(*events)++;
	if (cb != NULL)
		cb(ctx, &ev);
	store_group_wipe(&rec);
	return acked < 0 && s->t == NULL ? acked : 0;
}

int
client_group_push(struct sotto *s, const struct proto_group_push *p, sotto_event_fn cb,
    void *ctx, int *events)
{
	struct client_group_notes notes = { 0 };
	struct client_group_event ge;
	struct proto_group_ack a;
	size_t i;
	int r, own, acked, message, shown = 1;

	if (p->kind == PROTO_GROUP_MISSED)
		return group_missed(s, p, cb, ctx, events);
	memset(&ge, 0, sizeof(ge));
	if ((r = client_tx_begin(s, &own)) != 0)
		return r;
	r = client_group_receive(s, p->data.p, p->data.len, &ge);
	message = ge.type == CLIENT_GROUP_MESSAGE || ge.type == CLIENT_GROUP_FILE;
	if (r == 0 && message && (r = store_group_text(s, &ge, p, &shown)) == SOTTO_ERR_EXISTS)
		r = SOTTO_ERR_REPLAY;
	if (r == 0 && !message)
		r = notes_record(s, &ge, p, &notes);
	/* Taken while catching up (no callback): shown by the next poll that has one. */
	if (r == 0 && message && shown && cb == NULL)
		r = unshown_add(s, ge.msg_id);
	for (i = 0; r == 0 && cb == NULL && i < notes.n; i++)
		r = unshown_add(s, notes.v[i].id);
	if ((r = client_tx_end(s, own, r)) != 0 && local_failure(r)) {
		client_group_notes_free(&notes);
		client_group_event_free(&ge);
		return r;
	}
	/* Stored (or refused for good): acknowledged. */
	memset(&a, 0, sizeof(a));
	a.group = p->group;
	a.seq = p->seq;
	acked = group_net_received(s->ops, s->t, &a, 1, CLIENT_TIMEOUT_MS);
	if (r == 0 && message && shown)
		emit_text(&ge, p, cb, ctx, events);
	else if (r == 0 && !message)
		emit_notes(&notes, ge.name, cb, ctx, events);
	/* A member asks to leave: we commit it, and say so as for anyone's Commit. */
	if (r == 0 && ge.type == CLIENT_GROUP_PROPOSAL && ge.leave_request && s->t != NULL)
		commit_leave(s, &ge, p, cb, ctx, events);
	client_group_notes_free(&notes);
	client_group_event_free(&ge);
	return acked < 0 && s->t == NULL ? acked : 0;
}

int
client_group_history_names(struct sotto *s, struct sotto_message *v, size_t n,
    const struct store_message *m)
{
	struct store_group_list l = { 0 };
	size_t i, j;
	int r, loaded = 0;

	for (i = 0; i < n; i++) {
		v[i].group[0] = v[i].group_name[0] = '\0';
		if (m[i].group_len == 0)
			continue;
		client_group_id_hex(v[i].group, m[i].group, m[i].group_len);
		if (!loaded && (r = store_group_list(s->st, &l)) != 0)
			return r;
		loaded = 1;
		for (j = 0; j < l.n; j++)
			if (l.v[j].id_len == m[i].group_len &&
			    memcmp(l.v[j].id, m[i].group, m[i].group_len) == 0)
				memcpy(v[i].group_name, l.v[j].name, sizeof(v[i].group_name));
	}
	store_group_list_free(&l);
	return 0;
}
