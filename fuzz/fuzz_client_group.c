/*
 * What a client does with an MLSMessage from the delivery service
 * (client_group_receive, src/client/group.c): B is a member of a group A made, each with
 * its own store (made once per process in a temporary directory); B also holds a spare
 * KeyPackage, so that Welcomes reach the lookup of their KeyPackageRefs. The first input
 * byte picks the path:
 *   even  the rest is given to B as it is;
 *   odd   the rest is a list of edits (u16 offset, u8 xor) to one of A's messages (byte 1
 *         picks: a Welcome for B's spare KeyPackage, an application message, a Commit).
 * Nothing may crash or leak, and a message B refuses must leave B's stored group as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"
#include "client/group.h"
#include "crypto/dh.h"
#include "crypto/sign.h"
#include "mls/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sotto *a, *b;
static uint8_t gid[CLIENT_GROUP_ID_LEN];
static struct buf msgs[3];

static char root[128];

static void
cleanup(void)
{
	char cmd[400];

	sotto_close(a);
	sotto_close(b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s-a' '%s-b'", root, root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s-*\n", root);
}

static struct sotto *
client(const char *dir, const char *address)
{
	static const uint8_t pass[] = "fuzz";
	struct store_identity id;
	struct sotto *s = NULL;

	memset(&id, 0, sizeof(id));
	memcpy(id.address, address, strlen(address) + 1);
	id.reg_state = STORE_REG_REGISTERED;
	if (sotto_create(&s, dir, pass, sizeof(pass) - 1, SOTTO_KDF_MIN) != 0 ||
	    sign_keypair(id.identity_pk, id.identity_sk) != 0 ||
	    dh_keypair(id.device_pk, id.device_sk) != 0 || store_identity_put(s->st, &id) != 0 ||
	    client_load_identity(s) != 0)
		abort();
	return s;
}

static void
setup(void)
{
	char dir[160];
	struct client_group_event ev;
	struct buf kp, spare, commit, welcome, info;
	const uint8_t *kps[1];
	size_t lens[1], i;

	snprintf(root, sizeof(root), "/tmp/sotto-fuzz-client-group-%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s-a", root);
	a = client(dir, "a@example.org");
	snprintf(dir, sizeof(dir), "%s-b", root);
	b = client(dir, "b@example.org");
	buf_init_dyn(&kp, MLS_MESSAGE_MAX);
	buf_init_dyn(&spare, MLS_MESSAGE_MAX);
	buf_init_dyn(&commit, MLS_MESSAGE_MAX);
	buf_init_dyn(&welcome, MLS_MESSAGE_MAX);
	buf_init_dyn(&info, MLS_MESSAGE_MAX);
	for (i = 0; i < 3; i++)
		buf_init_dyn(&msgs[i], MLS_MESSAGE_MAX);
	if (client_key_package_new(b, 0, &kp) != 0 || client_key_package_new(b, 0, &spare) != 0 ||
	    client_group_create(a, "fuzz", gid) != 0)
		abort();
	kps[0] = kp.p;
	lens[0] = kp.len;
	if (client_group_add(a, gid, sizeof(gid), kps, lens, 1, &commit, &welcome, &info) != 0 ||
	    client_group_commit_done(a, gid, sizeof(gid), 1) != 0 ||
	    client_group_receive(b, welcome.p, welcome.len, &ev) != 0)
		abort();
	client_group_event_free(&ev);
	/* A's messages B has not seen: a Welcome to B's spare KeyPackage in another group,
	 * an application message and a Commit of this group. */
	{
		uint8_t other[CLIENT_GROUP_ID_LEN];

		kps[0] = spare.p;
		lens[0] = spare.len;
		if (client_group_create(a, "other", other) != 0 ||
		    client_group_add(a, other, sizeof(other), kps, lens, 1, &commit, &msgs[0],
		    &info) != 0)
			abort();
	}
	if (client_group_send(a, gid, sizeof(gid), 0, (const uint8_t *)"hello", 5, NULL, &msgs[1]) != 0 ||
	    client_group_set_info(a, gid, sizeof(gid), "renamed", 0, &info) != 0 ||
	    client_group_remove(a, gid, sizeof(gid), "b@example.org", &msgs[2]) != 0)
		abort();
	buf_free(&kp);
	buf_free(&spare);
	buf_free(&commit);
	buf_free(&welcome);
	buf_free(&info);
	atexit(cleanup);
}

/* B's stored group (its state bytes), to compare before and after a refused message. */
static int
stored(struct store_group *g)
{
	return store_group_get(b->st, gid, sizeof(gid), g);
}

static void
give(const uint8_t *p, size_t len)
{
	struct client_group_event ev;
	struct store_group before, after;
	int r;

	if (stored(&before) != 0)
		abort();
	r = client_group_receive(b, p, len, &ev);
	if (r == 0) {
		client_group_event_free(&ev);
	} else {
		if (stored(&after) != 0 || after.state_len != before.state_len ||
		    memcmp(after.state, before.state, before.state_len) != 0 ||
		    after.status != before.status)
			abort();
		store_group_wipe(&after);
	}
	store_group_wipe(&before);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct buf *m;
	uint8_t *edited;
	size_t i;

	if (a == NULL)
		setup();
	if (size < 2)
		return 0;
	if ((data[0] & 1) == 0) {
		give(data + 1, size - 1);
		return 0;
	}
	m = &msgs[data[1] % 3];
	if ((edited = malloc(m->len)) == NULL)
		abort();
	memcpy(edited, m->p, m->len);
	for (i = 2; i + 3 <= size; i += 3)
		edited[((size_t)data[i] << 8 | data[i + 1]) % m->len] ^= data[i + 2];
	give(edited, m->len);
	free(edited);
	return 0;
}
