/*
 * A group's change as the client keeps it in its history (src/client/group_note.c): whatever
 * decodes must encode back to exactly its bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/group_note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group_note c;
	struct buf out;

	if (group_note_decode(data, size, &c) != 0)
		return 0;
	buf_init_dyn(&out, size + 1);
	if (group_note_encode(&c, &out) != 0 || out.len != size || memcmp(out.p, data, size) != 0)
		abort();
	buf_free(&out);
	return 0;
}
