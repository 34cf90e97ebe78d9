/*
 * A group's membership, name or timer change as the client keeps it in the history
 * (a message of type STORE_MSG_GROUP_EVENT; docs/STORE.md): its body is
 *   u8   version (GROUP_NOTE_VERSION)
 *   u8   change (enum sotto_group_change)
 *   u32  the group's timer after it, seconds (SOTTO_CHANGE_TIMER: the new one)
 *   u16  count (0..GROUP_NOTE_NAMES_MAX), then each: u16 length, bytes (1..GROUP_NOTE_NAME_MAX,
 *        no NUL): the members it names (JOINED: everyone then, up to the count; ADDED,
 *        REMOVED, LEFT: the one member), or the new name (RENAMED)
 * Big-endian; decoding rejects unknown changes, out-of-range fields and trailing bytes.
 * The entry's peer is the member who made the change ("" if unknown), its flags carry
 * STORE_FLAG_KEY_CHANGED when a member it names has a key other than its contact's.
 */
#ifndef SOTTO_CLIENT_GROUP_NOTE_H
#define SOTTO_CLIENT_GROUP_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client/store.h"
#include "sotto/group.h"
#include "sotto/sotto.h"

#define GROUP_NOTE_VERSION 1
#define GROUP_NOTE_NAMES_MAX SOTTO_GROUP_ADD_MAX
#define GROUP_NOTE_NAME_MAX (STORE_GROUP_NAME_MAX > STORE_ADDR_MAX ? \
    STORE_GROUP_NAME_MAX : STORE_ADDR_MAX)

struct group_note {
	uint8_t change;                 /* enum sotto_group_change */
	uint32_t expiry;
	size_t n;
	struct {
		const uint8_t *p;       /* borrowed */
		size_t len;
	} names[GROUP_NOTE_NAMES_MAX];
};

int group_note_encode(const struct group_note *n, struct buf *out) SOTTO_MUST_CHECK;
/* n borrows the names from p. */
int group_note_decode(const uint8_t *p, size_t len, struct group_note *n) SOTTO_MUST_CHECK;

#endif
