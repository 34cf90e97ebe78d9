/* Test helper: a fresh temporary directory for one SQLite database file and its WAL. */
#ifndef SOTTO_TESTS_TMP_DB_H
#define SOTTO_TESTS_TMP_DB_H

struct tmp_db {
	char dir[64];           /* /tmp/sotto-TAG-XXXXXX */
	char path[128];         /* dir/db, not created here */
};

/* Makes the directory (aborts when it cannot: nothing else would be meaningful). */
void tmp_db_new(struct tmp_db *t, const char *tag);
/* Removes db, db-wal, db-shm and the directory. */
void tmp_db_remove(struct tmp_db *t);

#endif
