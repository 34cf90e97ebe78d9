/*
 * A group's membership, name and timer changes shown to the user (docs/CLIENT.md
 * "Groups"): each change the group layer reports (client/group.h) becomes history entries
 * (group_note.h), written in the transaction that stores the group's new state, and is
 * shown from them: by sotto_poll's callback, by `sotto history`, and by the daemon.
 */
#ifndef SOTTO_CLIENT_GROUP_EVENTS_H
#define SOTTO_CLIENT_GROUP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "client/group.h"
#include "client/store.h"
#include "sotto/sotto.h"

struct client_group_notes {
	struct store_message *v;
	size_t n;
};

/* The history entries ev calls for (none for a text or a proposal), stored in the open
 * transaction into out (free with client_group_notes_free): one per member added, removed
 * or leaving, one for our joining or our removal, one each for a new name and a new timer.
 * server_time: the delivery service's time of the message, unix seconds. */
int client_group_notes_record(struct sotto *s, const struct client_group_event *ev,
    uint64_t server_time, struct client_group_notes *out) SOTTO_MUST_CHECK;
void client_group_notes_free(struct client_group_notes *n);

/* Calls cb (not NULL) with the SOTTO_EVENT_GROUP of the stored entry m (a
 * STORE_MSG_GROUP_EVENT; group_name: the group's name now) and counts it in *events.
 * An entry that does not decode is skipped. */
void client_group_note_show(const struct store_message *m, const char *group_name,
    sotto_event_fn cb, void *ctx, int *events);

/* v's change, expiry and body (the names, one a line) from the stored entry m. */
int client_group_note_history(const struct store_message *m, struct sotto_message *v)
    SOTTO_MUST_CHECK;

#endif
