/*
 * Array-based left-balanced binary trees (RFC 9420 section 4.2 and Appendix C). A tree of
 * n leaves has 2n - 1 nodes; leaves sit at even indices (leaf i is node 2i), parents at odd
 * ones. The ratchet tree is always full in RFC 9420 (section 7.8: it grows by doubling), so
 * n is a power of two; the functions take n and refuse anything else.
 *
 * Functions that can fail return 0 or SOTTO_ERR_INVALID_ARG (a node outside the tree, a
 * leaf's child, the root's parent or sibling) and write their answer to *out.
 */
#ifndef SOTTO_MLS_TREE_MATH_H
#define SOTTO_MLS_TREE_MATH_H

#include <stdint.h>

#include "sotto/error.h"

/* Cap on leaves, that is on the members of one group: a million, far above the thousand
 * the benchmarks aim at; a tree's per-node state is allocated from this width. It keeps
 * every node index (< 2^21) well inside a uint32. */
#define MLS_TREE_MAX_LEAVES (1u << 20)

/* 1 if n is a valid leaf count (a power of two, 1 <= n <= MLS_TREE_MAX_LEAVES). */
int mls_tree_valid_width(uint32_t n_leaves);
uint32_t mls_tree_node_width(uint32_t n_leaves);
/* The level of a node: 0 for leaves, the number of trailing 1 bits in general. */
uint32_t mls_tree_level(uint32_t x);
uint32_t mls_tree_root(uint32_t n_leaves);
int mls_tree_left(uint32_t *out, uint32_t x) SOTTO_MUST_CHECK;
int mls_tree_right(uint32_t *out, uint32_t x) SOTTO_MUST_CHECK;
int mls_tree_parent(uint32_t *out, uint32_t x, uint32_t n_leaves) SOTTO_MUST_CHECK;
int mls_tree_sibling(uint32_t *out, uint32_t x, uint32_t n_leaves) SOTTO_MUST_CHECK;
/* The lowest common ancestor of leaves a and b (both below n_leaves). */
uint32_t mls_tree_common_ancestor(uint32_t a, uint32_t b, uint32_t n_leaves);

#endif
