/*
 * The ratchet tree as the ratchet_tree extension carries it (RFC 9420 section 12.4.3.3):
 *
 *   optional<Node> ratchet_tree<V>;
 *   struct { NodeType node_type;                  uint8: leaf(1), parent(2)
 *            select: leaf LeafNode; parent ParentNode; } Node;
 *   struct { HPKEPublicKey encryption_key; opaque parent_hash<V>;
 *            uint32 unmerged_leaves<V>; } ParentNode;
 *
 * Reading checks that node i is a leaf when i is even and a parent when odd, and that the
 * list ends in a non-blank leaf (trailing blanks are truncated, section 12.4.3.3). The
 * tree itself (hashes, parent hashes, TreeKEM) is later work.
 */
#ifndef SOTTO_MLS_RATCHET_TREE_H
#define SOTTO_MLS_RATCHET_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "base/cursor.h"

#define MLS_NODE_LEAF 1
#define MLS_NODE_PARENT 2

/* Reads the whole vector; *n_nodes receives the number of nodes it lists. */
void mls_ratchet_tree_read(struct cur *c, uint32_t *n_nodes);

#endif
