/*
 * Reading a member's saved group state (src/mls/group_state.c). Once per process, B's
 * state in a group of three made by Sotto's own code (skipped keys, a cached proposal, the
 * past epoch it joined in, kept for late messages) is
 * written out. The first input byte picks the path:
 *   even  the rest is read as a state;
 *   odd   the rest is a list of edits (u16 offset, u8 xor) applied to B's state, the
 *         last u16 of the input (if any is left) cutting it to that length.
 * Nothing may crash, leak or read out of bounds; a state that reads must write back to
 * exactly the bytes it was read from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/support/mls_member.h"
#include "crypto/init.h"
#include "mls/group_application.h"
#include "mls/group_state.h"
#include "mls/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct buf saved;

static void
setup(void)
{
	static struct mls_member ms[3];
	struct buf msg;
	size_t i;

	if (sotto_crypto_init() != 0)
		abort();
	buf_init_dyn(&saved, MLS_GROUP_STATE_MAX);
	buf_init_dyn(&msg, MLS_MESSAGE_MAX);
	for (i = 0; i < 3; i++)
		if (!mls_member_init(&ms[i], "fuzz"))
			abort();
	if (mls_member_create(&ms[0], "fuzz state") != 0 ||
	    mls_member_commit_all(ms, 3, 0, &ms[1], NULL, 0, 0) != 0 ||
	    mls_member_commit_all(ms, 3, 0, &ms[2], NULL, 0, 0) != 0)
		abort();
	for (i = 0; i < 3; i++)
		if (mls_group_send_application(&ms[0].g, ms[0].sig_sec, (const uint8_t *)"x", 1, &msg) != 0)
			abort();
	{
		struct buf plain;
		const uint8_t *d;
		size_t n;
		uint32_t from;

		buf_init_dyn(&plain, MLS_MESSAGE_MAX);
		if (mls_group_read_application(&ms[1].g, msg.p, msg.len, &plain, &d, &n, &from) != 0 ||
		    mls_group_propose_update(&ms[2].g, ms[2].sig_sec, &msg) != 0 ||
		    mls_group_cache_proposal(&ms[1].g, msg.p, msg.len) != 0 ||
		    mls_group_state_write(&ms[1].g, &saved) != 0)
			abort();
		buf_free(&plain);
	}
	buf_free(&msg);
	for (i = 0; i < 3; i++)
		mls_member_free(&ms[i]);
}

static void
try_read(const uint8_t *p, size_t len)
{
	struct mls_group g;
	struct buf out;

	if (mls_group_state_read(&g, p, len) != 0)
		return;
	buf_init_dyn(&out, MLS_GROUP_STATE_MAX);
	if (mls_group_state_write(&g, &out) != 0 || out.len != len || memcmp(out.p, p, len) != 0)
		abort();
	buf_wipe_free(&out);
	mls_group_free(&g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *edited;
	size_t i, len;

	if (saved.p == NULL)
		setup();
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		try_read(data + 1, size - 1);
		return 0;
	}
	if ((edited = malloc(saved.len)) == NULL)
		abort();
	memcpy(edited, saved.p, saved.len);
	len = saved.len;
	for (i = 1; i + 3 <= size; i += 3)
		edited[((size_t)data[i] << 8 | data[i + 1]) % saved.len] ^= data[i + 2];
	if (i + 2 <= size)
		len = ((size_t)data[i] << 8 | data[i + 1]) % (saved.len + 1);
	try_read(edited, len);
	free(edited);
	return 0;
}
