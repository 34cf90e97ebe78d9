/* Tree math (src/mls/tree_math.c) on tree-math.json: root, left, right, parent and sibling
 * of every node of every tree, null where the vector says the node has none. */
#include <stdio.h>

#include "check.h"
#include "mls_vectors.h"
#include "mls/tree_math.h"

/* The vector's value at arr[x]: -1 for null, -2 if missing or not an integer. */
static long long
want_at(const json_t *e, const char *key, uint32_t x)
{
	const json_t *v = json_array_get(json_object_get(e, key), x);

	if (json_is_null(v))
		return -1;
	return json_is_integer(v) ? json_integer_value(v) : -2;
}

static int
check_op(const json_t *e, const char *key, uint32_t x, int r, uint32_t got)
{
	long long want = want_at(e, key, x);
	int ok = 1;

	if (want == -1)
		VCHECK(ok, r == SOTTO_ERR_INVALID_ARG);
	else {
		VCHECK(ok, want >= 0);
		VCHECK(ok, r == 0 && got == want);
	}
	if (!ok)
		printf("# %s(%u) wrong\n", key, x);
	return ok;
}

static int
tree_math_entry(const json_t *e, size_t idx)
{
	int ok = 1;
	uint32_t n = (uint32_t)mls_vec_uint(e, "n_leaves", &ok), w, x, got = 0;
	(void)idx;

	if (!ok)
		return 0;
	w = mls_tree_node_width(n);
	VCHECK(ok, mls_tree_valid_width(n));
	VCHECK(ok, w == mls_vec_uint(e, "n_nodes", &ok));
	VCHECK(ok, mls_tree_root(n) == mls_vec_uint(e, "root", &ok));
	VCHECK(ok, json_array_size(json_object_get(e, "parent")) == w);
	for (x = 0; x < w; x++) {
		int r;

		got = 0;
		r = mls_tree_left(&got, x);
		ok &= check_op(e, "left", x, r, got);
		r = mls_tree_right(&got, x);
		ok &= check_op(e, "right", x, r, got);
		r = mls_tree_parent(&got, x, n);
		ok &= check_op(e, "parent", x, r, got);
		r = mls_tree_sibling(&got, x, n);
		ok &= check_op(e, "sibling", x, r, got);
	}
	return ok;
}

TEST(rejects_outside_the_tree)
{
	uint32_t out = 7;

	CHECK(!mls_tree_valid_width(0));
	CHECK(!mls_tree_valid_width(3));
	CHECK(!mls_tree_valid_width(MLS_TREE_MAX_LEAVES * 2u));
	CHECK(mls_tree_valid_width(MLS_TREE_MAX_LEAVES));
	CHECK_EQ_INT(mls_tree_parent(&out, 7, 4), SOTTO_ERR_INVALID_ARG);   /* past the end */
	CHECK_EQ_INT(mls_tree_parent(&out, 0, 3), SOTTO_ERR_INVALID_ARG);   /* not full */
	CHECK_EQ_INT(mls_tree_sibling(&out, 3, 4), SOTTO_ERR_INVALID_ARG);  /* the root */
	CHECK_EQ_INT(mls_tree_left(&out, 0xffffffffu), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(out, 7);
	/* The largest tree: its root and its last leaf. */
	CHECK(mls_tree_parent(&out, 2 * (MLS_TREE_MAX_LEAVES - 1), MLS_TREE_MAX_LEAVES) == 0);
	CHECK_EQ_INT(out, 2 * (MLS_TREE_MAX_LEAVES - 1) - 1);
	CHECK_EQ_INT(mls_tree_root(MLS_TREE_MAX_LEAVES), MLS_TREE_MAX_LEAVES - 1);
}

int
main(void)
{
	mls_vec_run("tree-math.json", 10, tree_math_entry);
	RUN(rejects_outside_the_tree);
	return check_summary();
}
