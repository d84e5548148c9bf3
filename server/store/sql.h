// A thin RAII layer over the SQLite C API for the store: connections with a cache of
// prepared statements, statements that reset themselves after use, and SQLite result
// codes turned into absl::Status. Internal to server/store.
#ifndef ACTGRID_SERVER_STORE_SQL_H_
#define ACTGRID_SERVER_STORE_SQL_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Early returns for the store's SQL code (names kept private to server/store).
#define ACTGRID_STORE_RETURN_IF_ERROR(expr)            \
  do {                                                 \
    absl::Status actgrid_status_ = (expr);             \
    if (!actgrid_status_.ok()) return actgrid_status_; \
  } while (0)
#define ACTGRID_STORE_CONCAT_INNER(a, b) a##b
#define ACTGRID_STORE_CONCAT(a, b) ACTGRID_STORE_CONCAT_INNER(a, b)
// `lhs` = the value of the StatusOr `expr`, or return its error.
#define ACTGRID_STORE_ASSIGN_OR_RETURN(lhs, expr) \
  ACTGRID_STORE_ASSIGN_OR_RETURN_IMPL(ACTGRID_STORE_CONCAT(actgrid_or_, __LINE__), lhs, expr)
#define ACTGRID_STORE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                        \
  if (!tmp.ok()) return tmp.status();                       \
  lhs = std::move(*tmp)

namespace actgrid::store::sql {

// The status for SQLite result code `rc` on `db` (may be null): the message carries
// `what`, SQLite's message and its result code. A full disk or size cap is
// ResourceExhausted ("database full: ..."); busy, locked, I/O, corrupt and
// not-a-database errors are Unavailable (the store cannot serve); constraint
// violations InvalidArgument; read-only FailedPrecondition; anything else Internal.
absl::Status Error(sqlite3* db, int rc, absl::string_view what);

// A prepared statement checked out of a Conn for one use. Its destructor resets it
// and clears its bindings, so the cached statement is ready for the next user.
// Binding errors are remembered and returned by the next Step/Run.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_), bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQL's ?1.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Stmt& Bind(int index, bool value) { return Bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  // SQLite stores NaN as NULL; Double() reads NULL back as NaN.
  Stmt& Bind(int index, double value);
  Stmt& Bind(int index, absl::string_view text);
  Stmt& Bind(int index, const char* text) { return Bind(index, absl::string_view(text)); }
  Stmt& Bind(int index, const std::string& text) { return Bind(index, absl::string_view(text)); }
  Stmt& BindBlob(int index, absl::string_view bytes);
  // Without a copy: `bytes` must stay valid and unchanged until the statement is reset.
  Stmt& BindBlobNoCopy(int index, absl::string_view bytes);
  Stmt& BindNull(int index);

  // Makes the statement ready to be bound and run again (as the destructor does).
  void Reset();

  // One step: true with a row to read, false when done.
  absl::StatusOr<bool> Step();
  // Steps to the end, ignoring rows (for INSERT/UPDATE/DELETE).
  absl::Status Run();

  // Columns are 0-based, as in sqlite3_column_*.
  bool IsNull(int col) const;
  int64_t Int64(int col) const;
  int Int(int col) const { return static_cast<int>(Int64(col)); }
  double Double(int col) const;  // NULL -> NaN
  std::string Text(int col) const;
  absl::string_view Blob(int col) const;  // valid until the next Step

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  int bind_rc_ = SQLITE_OK;
};

// One SQLite connection, used by one thread at a time (opened with NOMUTEX).
class Conn {
 public:
  // Opens `filename` (a path, or a URI when flags has SQLITE_OPEN_URI) and sets the
  // busy timeout. Errors name `display` (the path the user gave).
  static absl::StatusOr<std::unique_ptr<Conn>> Open(const std::string& filename, int flags,
                                                    const std::string& display);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // The statement for `sql`, prepared once per connection (SQLITE_PREPARE_PERSISTENT)
  // and cached by the address of `sql`: pass string constants with static storage
  // only. One statement may be checked out at a time per `sql`.
  absl::StatusOr<Stmt> Prepare(const char* sql);
  // Runs one or more statements without caching (pragmas, DDL).
  absl::Status Exec(const char* sql);
  // The single integer result of a query such as "PRAGMA user_version".
  absl::StatusOr<int64_t> QueryInt(const char* sql);

  int64_t Changes() const { return sqlite3_changes64(db_); }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* db() const { return db_; }

 private:
  explicit Conn(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace actgrid::store::sql

#endif  // ACTGRID_SERVER_STORE_SQL_H_
