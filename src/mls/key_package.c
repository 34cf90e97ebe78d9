#include "mls/key_package.h"

#include <string.h>
#include <sodium.h>

#include "crypto/dh.h"
#include "mls/crypto.h"
#include "mls/limits.h"
#include "mls/ratchet_tree.h"
#include "mls/tls_codec.h"

/* Capabilities: versions [mls10], cipher_suites [3], extensions [], proposals [],
 * credentials [basic]; the default types need not be listed (RFC 9420 7.2). */
static void
write_capabilities(struct buf *b)
{
	buf_u8(b, 2);
	buf_u16(b, MLS_PROTOCOL_VERSION_MLS10);
	buf_u8(b, 2);
	buf_u16(b, MLS_CIPHER_SUITE);
	buf_u8(b, 0);
	buf_u8(b, 0);
	buf_u8(b, 2);
	buf_u16(b, MLS_CREDENTIAL_BASIC);
}

static const uint8_t no_extensions[1];

int
mls_key_package_create(struct buf *out, struct mls_key_package_secrets *ks,
    const uint8_t sig_sec[static 64], const uint8_t *identity, size_t identity_len,
    uint64_t not_before, uint64_t not_after)
{
	uint8_t init_pub[MLS_KEM_PUBLIC_LEN], enc_pub[MLS_KEM_PUBLIC_LEN], sig[MLS_SIG_LEN];
	uint8_t caps_mem[16];
	struct mls_leaf_node ln;
	struct buf caps, tbs;
	int r;

	memset(ks, 0, sizeof(*ks));
	memset(&ln, 0, sizeof(ln));
	if (identity_len > MLS_CREDENTIAL_MAX || not_before > not_after)
		return SOTTO_ERR_INVALID_ARG;
	buf_init_fixed(&caps, caps_mem, sizeof(caps_mem));
	write_capabilities(&caps);
	buf_init_dyn(&tbs, MLS_MESSAGE_MAX);
	if ((r = buf_status(&caps)) != 0 || (r = dh_keypair(init_pub, ks->init_sec)) != 0 ||
	    (r = dh_keypair(enc_pub, ks->enc_sec)) != 0)
		goto out;
	ln.encryption_key = enc_pub;
	ln.signature_key = sig_sec + 32;   /* libsodium's secret key ends with the public key */
	ln.credential_type = MLS_CREDENTIAL_BASIC;
	ln.credential = identity;
	ln.credential_len = identity_len;
	ln.capabilities = caps.p;
	ln.capabilities_len = caps.len;
	ln.source = MLS_LEAF_SOURCE_KEY_PACKAGE;
	ln.not_before = not_before;
	ln.not_after = not_after;
	ln.extensions = no_extensions;
	ln.extensions_len = 0;
	/* KeyPackageTBS with the signed LeafNode, then its signature. */
	buf_u16(&tbs, MLS_PROTOCOL_VERSION_MLS10);
	buf_u16(&tbs, MLS_CIPHER_SUITE);
	mls_buf_opaque(&tbs, init_pub, sizeof(init_pub));
	if ((r = mls_leaf_node_sign(&tbs, &ln, sig_sec, NULL, 0, 0)) != 0)
		goto out;
	mls_buf_opaque(&tbs, no_extensions, 0);   /* extensions */
	if ((r = buf_status(&tbs)) != 0 ||
	    (r = mls_sign_with_label(sig, sig_sec, "KeyPackageTBS", tbs.p, tbs.len)) != 0)
		goto out;
	buf_put(out, tbs.p, tbs.len);
	mls_buf_opaque(out, sig, sizeof(sig));
	r = buf_status(out);
out:
	buf_free(&tbs);
	if (r != 0)
		mls_key_package_secrets_wipe(ks);
	return r;
}

void
mls_key_package_secrets_wipe(struct mls_key_package_secrets *ks)
{
	sodium_memzero(ks, sizeof(*ks));
}

int
mls_key_package_verify(const struct mls_key_package *kp, uint64_t now)
{
	int r;

	if (kp->signature_len != MLS_SIG_LEN)
		return SOTTO_ERR_BAD_SIGNATURE;
	if ((r = mls_verify_with_label(kp->signature, kp->leaf.signature_key, "KeyPackageTBS",
	    kp->tbs, kp->tbs_len)) != 0 ||
	    (r = mls_leaf_node_verify(&kp->leaf, NULL, 0, 0)) != 0)
		return r;
	if (kp->leaf.source != MLS_LEAF_SOURCE_KEY_PACKAGE ||
	    now < kp->leaf.not_before || now > kp->leaf.not_after ||
	    memcmp(kp->init_key, kp->leaf.encryption_key, MLS_KEM_PUBLIC_LEN) == 0)
		return SOTTO_ERR_PROTOCOL;
	return 0;
}
