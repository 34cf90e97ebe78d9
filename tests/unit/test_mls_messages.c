/*
 * Every message structure of RFC 9420 on messages.json (the 100 entries whose KeyPackage
 * is suite 3): each of the 17 fields of each entry is read with its reader and must be
 * consumed exactly, with no error and no byte left; the MLSMessages carry the expected
 * wire format, and the public, private, Welcome and GroupInfo ones are written back from
 * their fields byte for byte. Each field cut by one byte, or with one byte more, must not
 * read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mls_vectors.h"
#include "mls/framing.h"
#include "mls/limits.h"
#include "mls/message.h"
#include "mls/proposal.h"
#include "mls/ratchet_tree.h"
#include "mls/welcome.h"

enum kind { MESSAGE, RATCHET_TREE, GROUP_SECRETS, PROPOSAL, COMMIT };

static const struct field {
	const char *key;
	enum kind kind;
	uint16_t type;          /* wire format, or proposal type */
	uint8_t content_type;   /* for public messages */
} fields[] = {
	{ "mls_welcome", MESSAGE, MLS_WIRE_WELCOME, 0 },
	{ "mls_group_info", MESSAGE, MLS_WIRE_GROUP_INFO, 0 },
	{ "mls_key_package", MESSAGE, MLS_WIRE_KEY_PACKAGE, 0 },
	{ "ratchet_tree", RATCHET_TREE, 0, 0 },
	{ "group_secrets", GROUP_SECRETS, 0, 0 },
	{ "add_proposal", PROPOSAL, MLS_PROPOSAL_ADD, 0 },
	{ "update_proposal", PROPOSAL, MLS_PROPOSAL_UPDATE, 0 },
	{ "remove_proposal", PROPOSAL, MLS_PROPOSAL_REMOVE, 0 },
	{ "pre_shared_key_proposal", PROPOSAL, MLS_PROPOSAL_PSK, 0 },
	{ "re_init_proposal", PROPOSAL, MLS_PROPOSAL_REINIT, 0 },
	{ "external_init_proposal", PROPOSAL, MLS_PROPOSAL_EXTERNAL_INIT, 0 },
	{ "group_context_extensions_proposal", PROPOSAL, MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS, 0 },
	{ "commit", COMMIT, 0, 0 },
	{ "public_message_application", MESSAGE, MLS_WIRE_PUBLIC_MESSAGE, MLS_CONTENT_APPLICATION },
	{ "public_message_proposal", MESSAGE, MLS_WIRE_PUBLIC_MESSAGE, MLS_CONTENT_PROPOSAL },
	{ "public_message_commit", MESSAGE, MLS_WIRE_PUBLIC_MESSAGE, MLS_CONTENT_COMMIT },
	{ "private_message", MESSAGE, MLS_WIRE_PRIVATE_MESSAGE, 0 },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static size_t fields_passed, rewritten, leaves_rewritten;

/* A LeafNode written back from its fields is the one read. */
static int
leaf_rewrites(const struct mls_leaf_node *ln)
{
	struct buf out;
	int ok;

	buf_init_dyn(&out, ln->encoding_len + 1);
	mls_leaf_node_write(&out, ln);
	ok = buf_status(&out) == 0 && out.len == ln->encoding_len &&
	    memcmp(out.p, ln->encoding, out.len) == 0;
	buf_free(&out);
	leaves_rewritten += ok;
	return ok;
}

static int
message_field(const struct field *f, const uint8_t *p, size_t n)
{
	struct mls_message m;
	struct buf out;
	struct cur c;
	int ok = 1;

	cur_init(&c, p, n);
	mls_message_read(&c, &m);
	VCHECK(ok, cur_finish(&c) == 0);
	VCHECK(ok, m.wire_format == f->type);
	if (ok && f->type == MLS_WIRE_PUBLIC_MESSAGE)
		VCHECK(ok, m.pub.content.content_type == f->content_type);
	if (!ok || f->type == MLS_WIRE_KEY_PACKAGE)
		return ok;
	buf_init_dyn(&out, n + 1);
	VCHECK(ok, mls_message_write(&out, &m) == 0);
	VCHECK(ok, out.len == n && memcmp(out.p, p, n) == 0);
	rewritten += ok;
	buf_free(&out);
	return ok;
}

/* 1 if p reads exactly as the field's structure; prints nothing. */
static int
reads_exactly(const struct field *f, const uint8_t *p, size_t n)
{
	struct mls_group_secrets gs;
	struct mls_proposal prop;
	struct mls_message m;
	struct mls_commit cm;
	struct cur c;
	uint32_t nodes;

	cur_init(&c, p, n);
	switch (f->kind) {
	case MESSAGE:
		mls_message_read(&c, &m);
		break;
	case RATCHET_TREE:
		mls_ratchet_tree_read(&c, &nodes);
		break;
	case GROUP_SECRETS:
		mls_group_secrets_read(&c, &gs);
		break;
	case PROPOSAL:
		mls_proposal_body_read(&c, f->type, &prop);
		break;
	case COMMIT:
		mls_commit_read(&c, &cm);
		break;
	}
	return cur_finish(&c) == 0;
}

static int
messages_entry(const json_t *e, size_t idx)
{
	size_t i, n;
	int ok = 1;

	VCHECK(ok, json_object_size(e) == N_FIELDS);   /* a field we do not know is a failure */
	for (i = 0; i < N_FIELDS; i++) {
		uint8_t *p = mls_vec_hex(e, fields[i].key, &n);

		if (p != NULL && reads_exactly(&fields[i], p, n) &&
		    (fields[i].kind != MESSAGE || message_field(&fields[i], p, n)))
			fields_passed++;
		else {
			printf("# entry %zu: %s does not read\n", idx, fields[i].key);
			ok = 0;
		}
		/* The LeafNode inside an Add or Update writes back from its fields. */
		if (ok && fields[i].kind == PROPOSAL && (fields[i].type == MLS_PROPOSAL_ADD ||
		    fields[i].type == MLS_PROPOSAL_UPDATE)) {
			struct mls_proposal prop;
			struct cur c;

			cur_init(&c, p, n);
			mls_proposal_body_read(&c, fields[i].type, &prop);
			VCHECK(ok, cur_finish(&c) == 0 && leaf_rewrites(fields[i].type == MLS_PROPOSAL_ADD ?
			    &prop.add.leaf : &prop.update));
		}
		/* One byte less, or one more, must not read. */
		if (p != NULL) {
			uint8_t *longer = malloc(n + 1);

			VCHECK(ok, !reads_exactly(&fields[i], p, n - (n > 0)) || n == 0);
			if (longer != NULL) {
				memcpy(longer, p, n);
				longer[n] = 0;
				VCHECK(ok, !reads_exactly(&fields[i], longer, n + 1));
			}
			free(longer);
		}
		free(p);
	}
	return ok;
}

int
main(void)
{
	mls_vec_run("messages.json", 100, messages_entry);
	printf("# messages.json: %zu of %zu fields read exactly, %zu messages and %zu leaf nodes "
	    "written back\n", fields_passed, 100 * N_FIELDS, rewritten, leaves_rewritten);
	return check_summary();
}
