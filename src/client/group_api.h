/*
 * What the rest of libsotto calls of the public group API (group_api.c, group_push.c):
 * KeyPackage upkeep on connect, group pushes for sotto_poll, group names for the history.
 */
#ifndef SOTTO_CLIENT_GROUP_API_H
#define SOTTO_CLIENT_GROUP_API_H

#include <stddef.h>
#include <stdint.h>

#include "client/store.h"
#include "sotto/group.h"
#include "sotto/sotto.h"
#include "wire/proto.h"

/* Asks the server for our KeyPackage stock and uploads more (and a last-resort one) when
 * it is low, or (asked) when the server's KEY_PACKAGE_LOW said so. Needs a connection. */
int client_key_packages_replenish(struct sotto *s, int asked, int timeout_ms)
    SOTTO_MUST_CHECK;

/* A group id in hex (2 * len + 1 bytes). */
void client_group_id_hex(char *out, const uint8_t *id, size_t len);

/* Our Commit of a member's request to leave (who), sent; the delivery service's answer
 * passed to the group layer. */
int client_group_commit_leave(struct sotto *s, const uint8_t *id, size_t id_len,
    const char *who) SOTTO_MUST_CHECK;

/* group_push.c: one GROUP_PUSH: processed and stored in one transaction, then acknowledged, then shown
 * (cb, *events counted). A push refused for good (a redelivery, our own entry coming back,
 * a message that does not verify) is acknowledged and dropped. Returns 0, or an error of
 * the store or the connection (the push was not acknowledged and comes again). */
int client_group_push(struct sotto *s, const struct proto_group_push *p, sotto_event_fn cb,
    void *ctx, int *events) SOTTO_MUST_CHECK;

/* Shows (cb, *events counted) the group texts that pushes taken without a callback
 * stored (a Commit or message of ours catching up with the group), once. */
int client_group_unshown(struct sotto *s, sotto_event_fn cb, void *ctx, int *events)
    SOTTO_MUST_CHECK;

/* A whole mail (len bytes) to group: one application message per part
 * (mail/mail_content.h, under mail_id), then one history entry for the mail (hid). */
int client_group_mail_out(struct sotto *s, const char *group, const uint8_t *msg, size_t len,
    const uint8_t mail_id[16], const uint8_t hid[SOTTO_ID_LEN]) SOTTO_MUST_CHECK;

/* v[i].group and group_name from m[i] (n of each). */
int client_group_history_names(struct sotto *s, struct sotto_message *v, size_t n,
    const struct store_message *m) SOTTO_MUST_CHECK;

#endif
