/*
 * Proposal and Commit as read off the wire (RFC 9420 sections 12.1 and 12.4). Reading
 * checks structure; applying proposals to a tree is later work.
 *
 *   struct { ProposalType proposal_type;            uint16
 *            select: add(1) KeyPackage; update(2) LeafNode; remove(3) uint32 removed;
 *                    psk(4) PreSharedKeyID; reinit(5) { opaque group_id<V>; uint16 version;
 *                    uint16 cipher_suite; Extension extensions<V>; };
 *                    external_init(6) opaque kem_output<V>;
 *                    group_context_extensions(7) Extension extensions<V>; } Proposal;
 *   struct { uint8 type; select: proposal(1) Proposal; reference(2) opaque ref<V>; }
 *       ProposalOrRef;
 *   struct { ProposalOrRef proposals<V>; optional<UpdatePath> path; } Commit;
 *   struct { LeafNode leaf_node; UpdatePathNode nodes<V>; } UpdatePath;
 *   struct { HPKEPublicKey encryption_key; HPKECiphertext encrypted_path_secret<V>; }
 *       UpdatePathNode;   HPKECiphertext = { opaque kem_output<V>; opaque ciphertext<V>; }
 *
 * Pointers borrow from the input. Not secret.
 */
#ifndef SOTTO_MLS_PROPOSAL_H
#define SOTTO_MLS_PROPOSAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"
#include "sotto/error.h"
#include "mls/leaf_node.h"
#include "mls/psk.h"

#define MLS_PROPOSAL_ADD 1
#define MLS_PROPOSAL_UPDATE 2
#define MLS_PROPOSAL_REMOVE 3
#define MLS_PROPOSAL_PSK 4
#define MLS_PROPOSAL_REINIT 5
#define MLS_PROPOSAL_EXTERNAL_INIT 6
#define MLS_PROPOSAL_GROUP_CONTEXT_EXTENSIONS 7

#define MLS_PROPOSAL_OR_REF_PROPOSAL 1
#define MLS_PROPOSAL_OR_REF_REFERENCE 2

struct mls_proposal {
	uint16_t type;
	const uint8_t *body;          /* the encoded body after the type */
	size_t body_len;
	uint32_t removed;             /* remove */
	struct mls_key_package add;   /* add */
	struct mls_leaf_node update;  /* update */
	struct mls_psk psk;           /* psk: its id (psk and psk_len unset) */
};

struct mls_update_path {
	struct mls_leaf_node leaf;
	const uint8_t *nodes;         /* the contents of the nodes vector */
	size_t nodes_len;
	size_t n_nodes;
};

struct mls_commit {
	const uint8_t *proposals;     /* the contents of the proposals vector */
	size_t proposals_len;
	size_t proposal_count;
	int has_path;
	struct mls_update_path path;
};

/* Fail the cursor (SOTTO_ERR_MALFORMED, SOTTO_ERR_UNSUPPORTED for a proposal type that has
 * no length to skip by) on anything not well-formed. */
void mls_proposal_read(struct cur *c, struct mls_proposal *p);
/* The body alone (the structs Add, Update, Remove, ... of section 12.1), of a known type. */
void mls_proposal_body_read(struct cur *c, uint16_t type, struct mls_proposal *p);

void mls_commit_read(struct cur *c, struct mls_commit *cm);
void mls_update_path_read(struct cur *c, struct mls_update_path *up);
/* The i-th UpdatePathNode of a read UpdatePath: its encryption key (MLS_KEM_PUBLIC_LEN
 * bytes) and the contents of its encrypted_path_secret vector. SOTTO_ERR_INVALID_ARG if
 * there is no such node. */
int mls_update_path_node(const struct mls_update_path *up, size_t i, const uint8_t **key,
    const uint8_t **ciphertexts, size_t *ciphertexts_len) SOTTO_MUST_CHECK;

#endif
