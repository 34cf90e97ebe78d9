/* JSON forms of events, messages and contacts for `receive --json`, `history --json`,
 * `contacts --json` and the daemon. */
#include "cli/cli.h"
#include "sotto/group.h"

#include <stdlib.h>
#include <string.h>

json_t *
cli_json_text(const uint8_t *p, size_t len)
{
	static const uint8_t repl[] = { 0xef, 0xbf, 0xbd };
	uint8_t *clean;
	size_t i = 0, o = 0, k;
	uint32_t cp;
	json_t *j;

	if ((clean = malloc(3 * len + 1)) == NULL)
		return NULL;
	while (i < len) {
		if ((k = cli_utf8_seq(p + i, len - i, &cp)) == 0) {
			memcpy(clean + o, repl, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(clean + o, p + i, k);
		o += k;
		i += k;
	}
	j = json_stringn((const char *)clean, o);
	free(clean);
	return j;
}

const char *
cli_event_type_name(const struct sotto_event *ev)
{
	switch (ev->type) {
	case SOTTO_EVENT_MESSAGE:
		return ev->content == SOTTO_CONTENT_MAIL ? "mail" :
		    ev->content == SOTTO_CONTENT_FILE ? "file" : "text";
	case SOTTO_EVENT_RECEIPT: return "receipt";
	case SOTTO_EVENT_TIMER: return "timer";
	case SOTTO_EVENT_GROUP: return "group";
	default: return "warning";
	}
}

static json_t *
warnings_json(unsigned w, uint64_t gap, const char *reason)
{
	json_t *a = json_array();
	unsigned bit;
	char buf[512];

	for (bit = 1; bit != 0 && bit <= SOTTO_WARN_UNREADABLE; bit <<= 1) {
		if (!(w & bit))
			continue;
		if (bit == SOTTO_WARN_GAP && gap == 0)     /* from the history: no count */
			snprintf(buf, sizeof(buf), "messages missing before this one");
		else if (bit == SOTTO_WARN_GAP)
			snprintf(buf, sizeof(buf), "%llu message%s missing before this one",
			    (unsigned long long)gap, gap == 1 ? "" : "s");
		else if (bit == SOTTO_WARN_REJECTED && reason != NULL)
			snprintf(buf, sizeof(buf), "message rejected: %s", reason);
		else if (bit == SOTTO_WARN_UNREADABLE && reason != NULL)
			snprintf(buf, sizeof(buf), "%s", reason);
		else
			snprintf(buf, sizeof(buf), "%s", sotto_warning_text(bit));
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *
id_json(const uint8_t id[SOTTO_ID_LEN])
{
	char hex[2 * SOTTO_ID_LEN + 1];

	sotto_id_hex(hex, id);
	return json_string(hex);
}

/* A group's change: "change" and "event" (the same name), "actor" (who made it),
 * "members" (who it names), "subject" (the one member, or the new name), "expiry". */
static void
group_change_json(json_t *o, enum sotto_group_change change, const char *actor,
    const char *const *members, size_t n, uint32_t expiry)
{
	json_t *a = json_array();
	size_t i;

	json_object_set_new(o, "change", json_string(cli_group_change_name(change)));
	json_object_set_new(o, "event", json_string(cli_group_change_name(change)));
	json_object_set_new(o, "actor", json_string(actor != NULL ? actor : ""));
	for (i = 0; i < n; i++)
		json_array_append_new(a, cli_json_text((const uint8_t *)members[i],
		    strlen(members[i])));
	json_object_set_new(o, change == SOTTO_CHANGE_RENAMED ? "names" : "members", a);
	if (change != SOTTO_CHANGE_JOINED && change != SOTTO_CHANGE_YOU_REMOVED && n == 1)
		json_object_set_new(o, "subject", cli_json_text((const uint8_t *)members[0],
		    strlen(members[0])));
	json_object_set_new(o, "expiry", json_integer(expiry));
}

json_t *
cli_event_json(const struct sotto_event *ev)
{
	json_t *o, *ids;
	struct sotto_mail_summary m;
	size_t i;

	memset(&m, 0, sizeof(m));
	if (ev->type == SOTTO_EVENT_MESSAGE && ev->content == SOTTO_CONTENT_MAIL) {
		sotto_mail_summary(ev->body, ev->body_len, &m);
		/* a mail is shown at its first part; the others only for their warnings */
		if (m.part && m.index != 0 && ev->warnings == 0)
			return NULL;
	}
	o = json_object();
	json_object_set_new(o, "from", json_string(ev->peer != NULL ? ev->peer : ""));
	if (ev->type != SOTTO_EVENT_WARNING)
		json_object_set_new(o, "id", id_json(ev->id));
	json_object_set_new(o, "time", json_integer((json_int_t)ev->time));
	json_object_set_new(o, "type", json_string(cli_event_type_name(ev)));
	switch (ev->type) {
	case SOTTO_EVENT_MESSAGE:
		if (ev->content == SOTTO_CONTENT_MAIL) {
			if (m.part && m.index != 0)
				json_object_set_new(o, "part", json_integer(m.index));
			else
				json_object_set_new(o, "subject", cli_json_text(
				    (const uint8_t *)m.subject, strlen(m.subject)));
			json_object_set_new(o, "size", json_integer((json_int_t)m.size));
			json_object_set_new(o, "parts", json_integer(m.count));
		}
		if (ev->content != SOTTO_CONTENT_MAIL || !m.part)
			json_object_set_new(o, "body", cli_json_text(ev->body, ev->body_len));
		if (ev->expires_at != 0)
			json_object_set_new(o, "expires_at", json_integer((json_int_t)ev->expires_at));
		break;
	case SOTTO_EVENT_RECEIPT:
		json_object_set_new(o, "body", json_string(ev->receipt == SOTTO_RECEIPT_READ ?
		    "read" : "delivered"));
		ids = json_array();
		for (i = 0; i < ev->n_receipt_ids; i++)
			json_array_append_new(ids, id_json(ev->receipt_ids[i]));
		json_object_set_new(o, "ids", ids);
		break;
	case SOTTO_EVENT_TIMER:
		json_object_set_new(o, "body", json_integer(ev->expiry));
		break;
	case SOTTO_EVENT_GROUP:
		group_change_json(o, ev->change, ev->peer, ev->members, ev->n_members,
		    ev->expiry);
		if (ev->change == SOTTO_CHANGE_MISSED)
			json_object_set_new(o, "missed", json_integer((json_int_t)ev->gap));
		break;
	default:
		json_object_set_new(o, "body", json_string(ev->reason != NULL ? ev->reason : ""));
		break;
	}
	if (ev->group != NULL) {
		json_object_set_new(o, "group", json_string(ev->group));
		json_object_set_new(o, "group_name", cli_json_text((const uint8_t *)ev->group_name,
		    strlen(ev->group_name)));
	}
	json_object_set_new(o, "warnings", warnings_json(ev->warnings, ev->gap, ev->reason));
	return o;
}

const char *
cli_group_change_name(enum sotto_group_change c)
{
	switch (c) {
	case SOTTO_CHANGE_JOINED: return "joined";
	case SOTTO_CHANGE_ADDED: return "added";
	case SOTTO_CHANGE_REMOVED: return "removed";
	case SOTTO_CHANGE_YOU_REMOVED: return "you_removed";
	case SOTTO_CHANGE_RENAMED: return "renamed";
	case SOTTO_CHANGE_TIMER: return "timer";
	case SOTTO_CHANGE_LEFT: return "left";
	case SOTTO_CHANGE_MISSED: return "missed";
	}
	return "unknown";
}

json_t *
cli_message_json(const struct sotto_message *m)
{
	json_t *o = json_object(), *flags = json_array();

	json_object_set_new(o, "row", json_integer(m->row));
	json_object_set_new(o, "id", id_json(m->id));
	json_object_set_new(o, "peer", json_string(m->peer));
	json_object_set_new(o, "direction", json_string(m->dir == SOTTO_OUT ? "out" : "in"));
	json_object_set_new(o, "type", json_string(m->content == SOTTO_CONTENT_MAIL ? "mail" :
	    m->content == SOTTO_CONTENT_FILE ? "file" :
	    m->content == SOTTO_CONTENT_GROUP_EVENT ? "group" : "text"));
	if (m->content == SOTTO_CONTENT_GROUP_EVENT) {
		char buf[SOTTO_GROUP_CHANGE_TEXT_MAX];
		const char *names[SOTTO_GROUP_ADD_MAX];
		size_t n = sotto_group_change_names(m, buf, sizeof(buf), names, SOTTO_GROUP_ADD_MAX);

		group_change_json(o, m->change, m->peer, names, n, m->expiry);
	}
	json_object_set_new(o, "time", json_integer((json_int_t)m->time));
	json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
	json_object_set_new(o, "body", cli_json_text(m->body, m->body_len));
	if (m->expires_at != 0)
		json_object_set_new(o, "expires_at", json_integer((json_int_t)m->expires_at));
	if (m->group[0] != '\0') {
		json_object_set_new(o, "group", json_string(m->group));
		json_object_set_new(o, "group_name", cli_json_text((const uint8_t *)m->group_name,
		    strlen(m->group_name)));
	}
	if (m->flags & SOTTO_MSG_DELIVERED)
		json_array_append_new(flags, json_string("delivered"));
	if (m->flags & SOTTO_MSG_READ)
		json_array_append_new(flags, json_string("read"));
	if (m->flags & SOTTO_MSG_KEY_CHANGED)
		json_array_append_new(flags, json_string("key_changed"));
	if (m->flags & SOTTO_MSG_GAP_BEFORE)
		json_array_append_new(flags, json_string("gap_before"));
	if (m->flags & SOTTO_MSG_PENDING)
		json_array_append_new(flags, json_string("pending"));
	if (m->flags & SOTTO_MSG_FAILED)
		json_array_append_new(flags, json_string("failed"));
	if (m->flags & SOTTO_MSG_UNREADABLE)
		json_array_append_new(flags, json_string("unreadable"));
	json_object_set_new(o, "flags", flags);
	return o;
}

const char *
cli_trust_name(enum sotto_trust t)
{
	switch (t) {
	case SOTTO_TRUST_OK: return "ok";
	case SOTTO_TRUST_CHANGED: return "changed";
	default: return "blocked";
	}
}

json_t *
cli_contact_json(const struct sotto_contact *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "address", json_string(c->address));
	json_object_set_new(o, "verified", json_boolean(c->verified));
	json_object_set_new(o, "trust", json_string(cli_trust_name(c->trust)));
	json_object_set_new(o, "expiry", json_integer(c->expiry));
	json_object_set_new(o, "session", json_boolean(c->has_session));
	json_object_set_new(o, "pq", json_boolean(c->has_session && c->pq));
	json_object_set_new(o, "first_seen", json_integer((json_int_t)c->first_seen));
	if (c->changed_at != 0)
		json_object_set_new(o, "changed_at", json_integer((json_int_t)c->changed_at));
	return o;
}

static const char *
group_status_name(enum sotto_group_status st)
{
	switch (st) {
	case SOTTO_GROUP_MEMBER: return "member";
	case SOTTO_GROUP_LEAVING: return "leaving";
	case SOTTO_GROUP_REMOVED: return "removed";
	case SOTTO_GROUP_MISSED: return "missed";
	}
	return "unknown";
}

json_t *
cli_groups_json(const struct sotto_group *v, size_t n)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = json_object();
		json_object_set_new(o, "id", json_string(v[i].id));
		json_object_set_new(o, "name", cli_json_text((const uint8_t *)v[i].name,
		    strlen(v[i].name)));
		json_object_set_new(o, "address", json_string(v[i].address));
		json_object_set_new(o, "status", json_string(group_status_name(v[i].status)));
		json_object_set_new(o, "members", json_integer((json_int_t)v[i].n_members));
		json_object_set_new(o, "expiry", json_integer(v[i].expiry));
		json_array_append_new(a, o);
	}
	return a;
}

json_t *
cli_group_members_json(const struct sotto_group_member *v, size_t n)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = json_object();
		json_object_set_new(o, "address", json_string(v[i].address));
		json_object_set_new(o, "trust", json_string(sotto_member_trust_name(v[i].trust)));
		json_array_append_new(a, o);
	}
	return a;
}
