// The store's schema: an ordered list of migrations, versioned by PRAGMA user_version
// and marked as actgrid's by PRAGMA application_id. Internal to server/store.
#ifndef ACTGRID_SERVER_STORE_SCHEMA_H_
#define ACTGRID_SERVER_STORE_SCHEMA_H_

#include "absl/status/status.h"
#include "server/store/sql.h"

namespace actgrid::store {

// PRAGMA application_id of an actgrid database ("ACTG").
inline constexpr int kApplicationId = 0x41435447;

// Brings the database behind `conn` (writable) to kSchemaVersion, one migration per
// transaction. Errors: FailedPrecondition when its version is newer than this build's;
// Unavailable when it is some other application's database. Messages do not name the
// file: the caller (Store::Open) prefixes it.
absl::Status Migrate(sql::Conn& conn);

// Migrates an actgrid database whose schema is older than this build's; leaves
// anything else (current, newer, empty, not actgrid's) untouched for CheckSchema to judge.
absl::Status MigrateIfOlder(sql::Conn& conn);

// For read-only opens: checks that the database is actgrid's at exactly kSchemaVersion
// (FailedPrecondition when newer or not yet migrated; Unavailable when not actgrid's).
absl::Status CheckSchema(sql::Conn& conn);

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_SCHEMA_H_
