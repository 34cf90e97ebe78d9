/*
 * Which backend a store specification names: a postgresql:// URI or a file path.
 */
#include "server/store.h"

#include <string.h>

int
store_is_pg(const char *spec)
{
	return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

int
store_open_spec(struct server_store **out, const char *spec, const struct store_open_opts *o)
{
	return store_is_pg(spec) ? store_pg_open(out, spec, o) : store_sqlite_open(out, spec, o);
}
