#include "mls/leaf_node.h"

#include "mls/group_context.h"
#include "mls/limits.h"
#include "mls/tls_codec.h"

static void
read_credential(struct cur *c, struct mls_leaf_node *ln)
{
	struct cur certs;
	size_t n;

	ln->credential_type = cur_u16(c);
	switch (ln->credential_type) {
	case MLS_CREDENTIAL_BASIC:
		ln->credential = mls_cur_opaque(c, MLS_CREDENTIAL_MAX, &ln->credential_len);
		break;
	case MLS_CREDENTIAL_X509:
		mls_cur_vector(c, MLS_MESSAGE_MAX, &certs);
		ln->credential = certs.p;
		ln->credential_len = certs.len;
		while (cur_left(&certs) > 0)
			(void)mls_cur_opaque(&certs, MLS_CREDENTIAL_MAX, &n);
		if (cur_finish(&certs) != 0)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		break;
	default:
		/* Other credential types have no length to skip by. */
		cur_fail(c, SOTTO_ERR_UNSUPPORTED);
		break;
	}
}

/* Five vectors of uint16; the whole struct is kept as encoded. */
static void
read_capabilities(struct cur *c, struct mls_leaf_node *ln)
{
	size_t start = c->off, i;
	struct cur list;

	for (i = 0; i < 5; i++) {
		mls_cur_vector(c, MLS_CAPABILITY_LIST_MAX, &list);
		if (list.len % 2 != 0)
			cur_fail(c, SOTTO_ERR_MALFORMED);
	}
	if (cur_status(c) == 0) {
		ln->capabilities = c->p + start;
		ln->capabilities_len = c->off - start;
	}
}

void
mls_leaf_node_read(struct cur *c, struct mls_leaf_node *ln)
{
	size_t start = c->off;

	ln->encryption_key = mls_cur_opaque_fixed(c, MLS_KEM_PUBLIC_LEN);
	ln->signature_key = mls_cur_opaque_fixed(c, MLS_SIG_PUBLIC_LEN);
	read_credential(c, ln);
	read_capabilities(c, ln);
	ln->source = cur_u8(c);
	ln->not_before = ln->not_after = 0;
	ln->parent_hash = NULL;
	ln->parent_hash_len = 0;
	switch (ln->source) {
	case MLS_LEAF_SOURCE_KEY_PACKAGE:
		ln->not_before = cur_u64(c);
		ln->not_after = cur_u64(c);
		break;
	case MLS_LEAF_SOURCE_UPDATE:
		break;
	case MLS_LEAF_SOURCE_COMMIT:
		ln->parent_hash = mls_cur_opaque(c, MLS_HASH_LEN, &ln->parent_hash_len);
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		break;
	}
	ln->extensions = mls_cur_opaque(c, MLS_EXTENSIONS_MAX, &ln->extensions_len);
	if (cur_status(c) == 0 && mls_extensions_check(ln->extensions, ln->extensions_len) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	if (cur_status(c) == 0) {
		ln->tbs_fields = c->p + start;
		ln->tbs_fields_len = c->off - start;
	}
	ln->signature = mls_cur_opaque(c, MLS_SIGNATURE_MAX, &ln->signature_len);
	if (cur_status(c) == 0) {
		ln->encoding = c->p + start;
		ln->encoding_len = c->off - start;
	}
}

void
mls_key_package_read(struct cur *c, struct mls_key_package *kp)
{
	size_t start = c->off;
	uint16_t version = cur_u16(c), suite = cur_u16(c);

	if (cur_status(c) == 0 && (version != MLS_PROTOCOL_VERSION_MLS10 || suite != MLS_CIPHER_SUITE))
		cur_fail(c, SOTTO_ERR_UNSUPPORTED);
	kp->init_key = mls_cur_opaque_fixed(c, MLS_KEM_PUBLIC_LEN);
	mls_leaf_node_read(c, &kp->leaf);
	kp->extensions = mls_cur_opaque(c, MLS_EXTENSIONS_MAX, &kp->extensions_len);
	if (cur_status(c) == 0 && mls_extensions_check(kp->extensions, kp->extensions_len) != 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	if (cur_status(c) == 0) {
		kp->tbs = c->p + start;
		kp->tbs_len = c->off - start;
	}
	kp->signature = mls_cur_opaque(c, MLS_SIGNATURE_MAX, &kp->signature_len);
	if (cur_status(c) == 0) {
		kp->encoding = c->p + start;
		kp->encoding_len = c->off - start;
	}
}

void
mls_leaf_node_write_fields(struct buf *b, const struct mls_leaf_node *ln)
{
	mls_buf_opaque(b, ln->encryption_key, MLS_KEM_PUBLIC_LEN);
	mls_buf_opaque(b, ln->signature_key, MLS_SIG_PUBLIC_LEN);
	buf_u16(b, ln->credential_type);
	mls_buf_opaque(b, ln->credential, ln->credential_len);   /* identity, or the chain */
	buf_put(b, ln->capabilities, ln->capabilities_len);
	buf_u8(b, ln->source);
	if (ln->source == MLS_LEAF_SOURCE_KEY_PACKAGE) {
		buf_u64(b, ln->not_before);
		buf_u64(b, ln->not_after);
	} else if (ln->source == MLS_LEAF_SOURCE_COMMIT)
		mls_buf_opaque(b, ln->parent_hash, ln->parent_hash_len);
	mls_buf_opaque(b, ln->extensions, ln->extensions_len);
}

void
mls_leaf_node_write(struct buf *b, const struct mls_leaf_node *ln)
{
	mls_leaf_node_write_fields(b, ln);
	mls_buf_opaque(b, ln->signature, ln->signature_len);
}

int
mls_capabilities_list(const uint8_t *caps, size_t len, int list, uint16_t value)
{
	struct cur c, l;
	int i, found = 0;

	cur_init(&c, caps, len);
	for (i = 0; i <= list && cur_status(&c) == 0; i++)
		mls_cur_vector(&c, MLS_CAPABILITY_LIST_MAX, &l);
	while (cur_status(&c) == 0 && cur_left(&l) >= 2 && !found)
		found = cur_u16(&l) == value;
	return found;
}
