/*
 * The group requests and notices (wire/proto_group.h): the first input byte picks one of
 * their types (requests, responses, notices), the rest is its body, so that every run
 * reaches a group decoder. A decoded message must re-encode to the same bytes, and every
 * list it holds must read back through its iterator without an error: the decoder
 * checked each item, and the server trusts that.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t types[] = {
	PROTO_UPLOAD_KEY_PACKAGES, PROTO_CLAIM_KEY_PACKAGE, PROTO_GROUP_CREATE,
	PROTO_GROUP_COMMIT, PROTO_GROUP_SEND, PROTO_GROUP_RECEIVED, PROTO_GROUP_PUSH,
	PROTO_KEY_PACKAGE_LOW,
	PROTO_RESPONSE | PROTO_UPLOAD_KEY_PACKAGES, PROTO_RESPONSE | PROTO_CLAIM_KEY_PACKAGE,
	PROTO_RESPONSE | PROTO_GROUP_COMMIT, PROTO_RESPONSE | PROTO_GROUP_SEND,
	/* last, so that the seeds' first bytes keep their types */
	PROTO_GROUP_SEND_SEALED, PROTO_RESPONSE | PROTO_GROUP_SEND_SEALED,
};

static void
addr_list_reads_back(const struct proto_addr_list *l)
{
	char a[ADDRESS_MAX + 1];
	size_t off = 0, n = 0;
	int r;

	while ((r = proto_addr_list_next(l, &off, a)) == 0) {
		if (address_user_check(a, strlen(a)) != 0)
			abort();
		n++;
	}
	if (r != SOTTO_ERR_NOT_FOUND || n != l->n)
		abort();
}

static void
lists_read_back(const struct proto_msg *m)
{
	struct proto_welcome w;
	struct proto_group_ack a;
	size_t off = 0, n = 0;
	int r;

	if (m->type == PROTO_GROUP_COMMIT) {
		addr_list_reads_back(&m->u.group_commit.add);
		addr_list_reads_back(&m->u.group_commit.remove);
		while ((r = proto_welcome_list_next(&m->u.group_commit.welcomes, &off, &w)) == 0) {
			if (w.data.len == 0 || w.to.n == 0)
				abort();
			addr_list_reads_back(&w.to);
			n++;
		}
		if (r != SOTTO_ERR_NOT_FOUND || n != m->u.group_commit.welcomes.n)
			abort();
	} else if (m->type == PROTO_GROUP_RECEIVED) {
		while ((r = proto_group_acks_next(&m->u.group_received, &off, &a)) == 0) {
			if (a.group.len == 0 || a.group.len > PROTO_GROUP_ID_MAX)
				abort();
			n++;
		}
		if (r != SOTTO_ERR_NOT_FOUND || n != m->u.group_received.n)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_msg m;
	static uint8_t msg[1 << 16];
	struct buf b;
	size_t len;

	if (size < 1 || size - 1 > sizeof(msg) - 6)
		return 0;
	msg[0] = PROTO_VERSION;
	msg[1] = types[data[0] % sizeof(types)];
	memset(msg + 2, 0, 4);
	msg[5] = (msg[1] & PROTO_RESPONSE) || msg[1] >= PROTO_GROUP_PUSH ? 0 : 1;
	memcpy(msg + 6, data + 1, size - 1);
	len = size + 5;
	if (proto_decode(msg, len, &m) != 0)
		return 0;
	lists_read_back(&m);
	buf_init_dyn(&b, 1 << 20);
	if (proto_encode(&m, &b) != 0 || b.len != len || memcmp(b.p, msg, len) != 0)
		abort();
	buf_free(&b);
	return 0;
}
