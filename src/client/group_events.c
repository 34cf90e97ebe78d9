#include "client/group_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "client/group_api.h"
#include "client/group_note.h"
#include "crypto/rand.h"
#include "sotto/group.h"

void
client_group_notes_free(struct client_group_notes *n)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		store_message_wipe(&n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}

static int
member_key_changed(const struct client_group_member *m)
{
	return m->trust == CLIENT_MEMBER_CHANGED || m->trust == CLIENT_MEMBER_BLOCKED;
}

/* One entry: by (who made the change), the note's change and expiry, names[0..n). */
static int
note_add(struct sotto *s, const struct client_group_event *ev, uint64_t server_time,
    const char *by, uint8_t change, const char *const *names, size_t n, int key_changed,
    struct client_group_notes *out)
{
	struct group_note gn;
	struct store_message *m = &out->v[out->n];
	struct buf b;
	size_t i;
	int r;

	memset(&gn, 0, sizeof(gn));
	gn.change = change;
	gn.expiry = ev->expiry;
	for (i = 0; i < n && i < GROUP_NOTE_NAMES_MAX; i++) {
		gn.names[i].p = (const uint8_t *)names[i];
		gn.names[i].len = strlen(names[i]);
	}
	gn.n = i;
	buf_init_dyn(&b, GROUP_NOTE_NAMES_MAX * (GROUP_NOTE_NAME_MAX + 2) + 16);
	if ((r = group_note_encode(&gn, &b)) != 0) {
		buf_free(&b);
		return r;
	}
	memset(m, 0, sizeof(*m));
	memcpy(m->peer, by, strnlen(by, STORE_ADDR_MAX));
	rand_bytes(m->id, sizeof(m->id));
	m->dir = STORE_DIR_IN;
	m->type = STORE_MSG_GROUP_EVENT;
	m->flags = key_changed ? STORE_FLAG_KEY_CHANGED : 0;
	m->server_time = server_time;
	m->local_time = client_now();
	m->body = b.p;          /* transferred */
	m->body_len = b.len;
	memcpy(m->group, ev->group_id, ev->group_id_len);
	m->group_len = ev->group_id_len;
	out->n++;
	return store_message_add(s->st, m);
}

int
client_group_notes_record(struct sotto *s, const struct client_group_event *ev,
    uint64_t server_time, struct client_group_notes *out)
{
	const char **names = NULL;
	const char *name;
	size_t i, cap;
	int r = 0;

	out->v = NULL;
	out->n = 0;
	cap = ev->added.n + ev->removed.n + 2;
	if ((out->v = calloc(cap, sizeof(*out->v))) == NULL ||
	    (names = calloc(ev->added.n + 1, sizeof(*names))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	switch (ev->type) {
	case CLIENT_GROUP_JOINED:
		for (i = 0; i < ev->added.n; i++)
			names[i] = ev->added.v[i].address;
		r = note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_JOINED, names,
		    ev->added.n, (ev->warnings & CLIENT_GROUP_WARN_KEY_CHANGED) != 0, out);
		break;
	case CLIENT_GROUP_COMMIT:
		/* in the order the Commit applies them: removals, then additions */
		for (i = 0; i < ev->removed.n && r == 0; i++) {
			name = ev->removed.v[i].address;
			r = ev->removed.v[i].left ?
			    note_add(s, ev, server_time, name, SOTTO_CHANGE_LEFT, &name, 1, 0, out) :
			    note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_REMOVED, &name, 1,
			    0, out);
		}
		for (i = 0; i < ev->added.n && r == 0; i++) {
			name = ev->added.v[i].address;
			r = note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_ADDED, &name, 1,
			    member_key_changed(&ev->added.v[i]), out);
		}
		break;
	case CLIENT_GROUP_REMOVED:
		r = note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_YOU_REMOVED, NULL, 0, 0,
		    out);
		break;
	case CLIENT_GROUP_INFO:
		name = ev->name;
		if (strcmp(ev->old_name, ev->name) != 0)
			r = note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_RENAMED, &name, 1,
			    0, out);
		if (r == 0 && ev->old_expiry != ev->expiry)
			r = note_add(s, ev, server_time, ev->sender, SOTTO_CHANGE_TIMER, NULL, 0, 0,
			    out);
		break;
	default:
		break;
	}
out:
	free(names);
	if (r != 0)
		client_group_notes_free(out);
	return r;
}

void
client_group_note_show(const struct store_message *m, const char *group_name,
    sotto_event_fn cb, void *ctx, int *events)
{
	char gid[2 * SOTTO_GROUP_ID_MAX + 1];
	char (*names)[GROUP_NOTE_NAME_MAX + 1] = NULL;
	const char *ptrs[GROUP_NOTE_NAMES_MAX];
	struct group_note gn;
	struct sotto_event ev;
	size_t i;

	if (group_note_decode(m->body, m->body_len, &gn) != 0)
		return;
	if (gn.n > 0 && (names = calloc(gn.n, sizeof(*names))) == NULL)
		return;
	for (i = 0; i < gn.n; i++) {
		memcpy(names[i], gn.names[i].p, gn.names[i].len);
		names[i][gn.names[i].len] = '\0';
		ptrs[i] = names[i];
	}
	memset(&ev, 0, sizeof(ev));
	client_group_id_hex(gid, m->group, m->group_len);
	ev.type = SOTTO_EVENT_GROUP;
	ev.change = gn.change;
	ev.peer = m->peer;
	memcpy(ev.id, m->id, sizeof(ev.id));
	ev.time = m->server_time != 0 ? m->server_time : m->local_time;
	ev.expiry = gn.expiry;
	ev.warnings = (m->flags & STORE_FLAG_KEY_CHANGED) ? SOTTO_WARN_KEY_CHANGED : 0;
	ev.group = gid;
	ev.group_name = group_name != NULL ? group_name : "";
	ev.members = ptrs;
	ev.n_members = gn.n;
	(*events)++;
	cb(ctx, &ev);
	free(names);
}

int
client_group_note_history(const struct store_message *m, struct sotto_message *v)
{
	struct group_note gn;
	size_t i, len = 0;
	uint8_t *body;

	if (group_note_decode(m->body, m->body_len, &gn) != 0)
		return SOTTO_ERR_CORRUPT;
	for (i = 0; i < gn.n; i++)
		len += gn.names[i].len + 1;
	if ((body = malloc(len + 1)) == NULL)
		return SOTTO_ERR_NOMEM;
	len = 0;
	for (i = 0; i < gn.n; i++) {
		if (i > 0)
			body[len++] = '\n';
		memcpy(body + len, gn.names[i].p, gn.names[i].len);
		len += gn.names[i].len;
	}
	body[len] = '\0';
	free(v->body);
	v->body = body;
	v->body_len = len;
	v->content = SOTTO_CONTENT_GROUP_EVENT;
	v->change = gn.change;
	v->expiry = gn.expiry;
	return 0;
}

/* Appends to out (at most cap with the NUL) like snprintf; *len counts what it needs. */
static void
text_add(char *out, size_t cap, size_t *len, const char *str)
{
	size_t n = strlen(str);

	if (*len < cap) {
		size_t room = cap - *len - 1;

		memcpy(out + *len, str, n < room ? n : room);
		out[*len + (n < room ? n : room)] = '\0';
	}
	*len += n;
}

size_t
sotto_group_change_text(enum sotto_group_change c, const char *actor,
    const char *const *members, size_t n, uint32_t expiry, char *out, size_t cap)
{
	const char *by = actor != NULL && actor[0] != '\0' ? actor : "a member";
	const char *first = n > 0 ? members[0] : "";
	char num[32];
	size_t len = 0, i;

	if (cap > 0)
		out[0] = '\0';
	switch (c) {
	case SOTTO_CHANGE_JOINED:
		text_add(out, cap, &len, "you were added by ");
		text_add(out, cap, &len, by);
		text_add(out, cap, &len, "; members: ");
		for (i = 0; i < n; i++) {
			if (i > 0)
				text_add(out, cap, &len, ", ");
			text_add(out, cap, &len, members[i]);
		}
		break;
	case SOTTO_CHANGE_ADDED:
	case SOTTO_CHANGE_REMOVED:
		text_add(out, cap, &len, by);
		text_add(out, cap, &len, c == SOTTO_CHANGE_ADDED ? " added " : " removed ");
		text_add(out, cap, &len, first);
		break;
	case SOTTO_CHANGE_LEFT:
		text_add(out, cap, &len, by);
		text_add(out, cap, &len, " left");
		break;
	case SOTTO_CHANGE_YOU_REMOVED:
		text_add(out, cap, &len, "you were removed by ");
		text_add(out, cap, &len, by);
		text_add(out, cap, &len, ": you read nothing sent to the group now");
		break;
	case SOTTO_CHANGE_RENAMED:
		text_add(out, cap, &len, by);
		text_add(out, cap, &len, " named the group \"");
		text_add(out, cap, &len, first);
		text_add(out, cap, &len, "\"");
		break;
	case SOTTO_CHANGE_TIMER:
		text_add(out, cap, &len, by);
		if (expiry == 0) {
			text_add(out, cap, &len, " turned disappearing messages off");
			break;
		}
		snprintf(num, sizeof(num), "%u", expiry);
		text_add(out, cap, &len, " set disappearing messages to ");
		text_add(out, cap, &len, num);
		text_add(out, cap, &len, " s");
		break;
	case SOTTO_CHANGE_MISSED:       /* members[0]: the group's name or id; expiry: how many */
		snprintf(num, sizeof(num), "%u", expiry);
		text_add(out, cap, &len, "you missed messages in group ");
		text_add(out, cap, &len, first);
		text_add(out, cap, &len, " (");
		text_add(out, cap, &len, num);
		text_add(out, cap, &len, "); ask a member to add you again");
		break;
	}
	return len;
}

size_t
sotto_group_change_names(const struct sotto_message *m, char *buf, size_t buf_len,
    const char **v, size_t max)
{
	size_t n = 0, len = m->body_len < buf_len ? m->body_len : buf_len - 1;
	char *p = buf, *nl;

	memcpy(buf, m->body, len);
	buf[len] = '\0';
	if (len == 0 || max == 0)
		return 0;
	if (m->change == SOTTO_CHANGE_RENAMED) {
		v[0] = buf;
		return 1;
	}
	while (n < max) {
		v[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	return n;
}
