/*
 * A database file in a fresh temporary directory, for tests that open a store directly,
 * and its removal with SQLite's side files.
 */
#ifndef SOTTO_TESTS_TMP_DB_H
#define SOTTO_TESTS_TMP_DB_H

#define TMP_DB_DIR_MAX 64
#define TMP_DB_PATH_MAX 128

/* dir gets "/tmp/<prefix>-XXXXXX" made by mkdtemp, path "<dir>/db"; aborts on failure. */
void tmp_db_make(char dir[TMP_DB_DIR_MAX], char path[TMP_DB_PATH_MAX], const char *prefix);
/* The server's SQLite store at path (durability full): the handle, or NULL. */
struct server_store;
struct server_store *tmp_db_store_open(const char *path, int create);
/* Removes path, its -wal and -shm, and dir. */
void tmp_db_remove(const char *dir, const char *path);

#endif
