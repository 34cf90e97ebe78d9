/*
 * The key schedule (RFC 9420 section 8): from the previous epoch's init_secret, the
 * commit_secret and the psk_secret, over the new GroupContext, to every secret of the new
 * epoch; the exporter (section 8.5) and the external key pair (section 8.3).
 *
 *   joiner_secret = ExpandWithLabel(Extract(init_secret[n-1], commit_secret), "joiner", GC, Nh)
 *   member        = Extract(joiner_secret, psk_secret)
 *   welcome_secret = DeriveSecret(member, "welcome")
 *   epoch_secret  = ExpandWithLabel(member, "epoch", GC, Nh)
 *   <each below>  = DeriveSecret(epoch_secret, <label>)
 *   init_secret[n] = DeriveSecret(epoch_secret, "init")
 *
 * Extract(salt, ikm): the value from the previous step is the salt.
 */
#ifndef SOTTO_MLS_KEY_SCHEDULE_H
#define SOTTO_MLS_KEY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "mls/suite.h"

/* Every field SECRET except epoch_authenticator, which members compare in the open. */
struct mls_epoch_secrets {
	uint8_t joiner_secret[MLS_HASH_LEN];
	uint8_t welcome_secret[MLS_HASH_LEN];
	uint8_t sender_data_secret[MLS_HASH_LEN];
	uint8_t encryption_secret[MLS_HASH_LEN];
	uint8_t exporter_secret[MLS_HASH_LEN];
	uint8_t external_secret[MLS_HASH_LEN];
	uint8_t confirmation_key[MLS_HASH_LEN];
	uint8_t membership_key[MLS_HASH_LEN];
	uint8_t resumption_psk[MLS_HASH_LEN];
	uint8_t epoch_authenticator[MLS_HASH_LEN];
	uint8_t init_secret[MLS_HASH_LEN];
};

/* A member advancing an epoch. group_context is the encoded GroupContext of the new epoch
 * (mls/group_context.h). commit_secret and psk_secret are Nh zero bytes when absent. */
int mls_key_schedule_advance(struct mls_epoch_secrets *out,
    const uint8_t init_secret[static MLS_HASH_LEN], const uint8_t commit_secret[static MLS_HASH_LEN],
    const uint8_t psk_secret[static MLS_HASH_LEN], const uint8_t *group_context,
    size_t group_context_len) SOTTO_MUST_CHECK;
/* A new member starting from the joiner_secret of a Welcome (out->joiner_secret is set to
 * it). */
int mls_key_schedule_join(struct mls_epoch_secrets *out,
    const uint8_t joiner_secret[static MLS_HASH_LEN], const uint8_t psk_secret[static MLS_HASH_LEN],
    const uint8_t *group_context, size_t group_context_len) SOTTO_MUST_CHECK;
void mls_epoch_secrets_wipe(struct mls_epoch_secrets *s);
/* welcome_secret alone (SECRET), which a joiner needs before it has the GroupContext. */
int mls_welcome_secret(uint8_t out[static MLS_HASH_LEN], const uint8_t joiner_secret[static MLS_HASH_LEN],
    const uint8_t psk_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

/* MLS-Exporter(label, context, length) = ExpandWithLabel(DeriveSecret(exporter_secret,
 * label), "exported", Hash(context), length). out is SECRET. */
int mls_exporter(uint8_t *out, size_t out_len, const uint8_t exporter_secret[static MLS_HASH_LEN],
    const uint8_t *label, size_t label_len, const uint8_t *context, size_t context_len) SOTTO_MUST_CHECK;

/* The external key pair: DeriveKeyPair(external_secret). sec is SECRET. */
int mls_external_keypair(uint8_t pub[static MLS_KEM_PUBLIC_LEN], uint8_t sec[static MLS_KEM_SECRET_LEN],
    const uint8_t external_secret[static MLS_HASH_LEN]) SOTTO_MUST_CHECK;

#endif
