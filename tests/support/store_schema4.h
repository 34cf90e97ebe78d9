/*
 * Turns a client store file of schema 5 into the shape schema 4 had (no mail.msg column,
 * no mail_parts), rows kept, for the tests of the upgrade. Run with plain SQLite on the
 * closed file.
 */
#ifndef SOTTO_TESTS_STORE_SCHEMA4_H
#define SOTTO_TESTS_STORE_SCHEMA4_H

#define STORE_TEST_TO_SCHEMA_4 \
	"DROP TABLE mail_parts; DROP INDEX mail_msg; ALTER TABLE mail RENAME TO mail5;" \
	"CREATE TABLE mail(folder INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE," \
	" uid INTEGER NOT NULL, flags INTEGER NOT NULL, internaldate INTEGER NOT NULL," \
	" size INTEGER NOT NULL, rec BLOB NOT NULL, UNIQUE(folder, uid));" \
	"INSERT INTO mail SELECT folder, uid, flags, internaldate, size, rec FROM mail5;" \
	"DROP TABLE mail5; PRAGMA user_version = 4;"

#endif
