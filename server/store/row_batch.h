// Multi-row INSERT OR REPLACE for the store's hot path (AppendEpochs): one statement
// step stores up to kRowsPerInsert rows, saving SQLite's per-statement cost (step,
// reset, cursor open/close) on every epoch and layer row. Internal to server/store.
#ifndef ACTGRID_SERVER_STORE_ROW_BATCH_H_
#define ACTGRID_SERVER_STORE_ROW_BATCH_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/store/sql.h"

namespace actgrid::store {

inline constexpr int kRowsPerInsert = 32;

// The statements "INSERT OR REPLACE INTO <target> VALUES (?, ...), ..." for 1 to
// kRowsPerInsert rows of `columns` values. Build one per table as a function-local
// static: the statement cache keys on the strings' addresses, which never change.
class MultiRowSql {
 public:
  MultiRowSql(const std::string& target, int columns) : columns_(columns) {
    std::string row = "(";
    for (int c = 0; c < columns; ++c) row += c == 0 ? "?" : ", ?";
    row += ")";
    for (int n = 1; n <= kRowsPerInsert; ++n) {
      std::string& sql = sql_[n];
      sql = "INSERT OR REPLACE INTO " + target + " VALUES ";
      for (int r = 0; r < n; ++r) sql += (r == 0 ? row : ", " + row);
    }
  }
  const char* Sql(int rows) const { return sql_[rows].c_str(); }
  int columns() const { return columns_; }

 private:
  int columns_;
  std::array<std::string, kRowsPerInsert + 1> sql_;
};

// Collects rows and stores them kRowsPerInsert at a time. Rows are kept by value
// (make Row a small struct of pointers); Flush before anything that must see them,
// and at the end. Within one statement a repeated key keeps the later row.
template <typename Row>
class RowBatch {
 public:
  // bind(stmt, first, row) binds the row's values to parameters first, first+1, ...
  using BindFn = void (*)(sql::Stmt& stmt, int first, const Row& row);

  RowBatch(sql::Conn& conn, const MultiRowSql& sql, BindFn bind)
      : conn_(conn), sql_(sql), bind_(bind) {
    rows_.reserve(kRowsPerInsert);
  }

  absl::Status Add(const Row& row) {
    rows_.push_back(row);
    if (static_cast<int>(rows_.size()) == kRowsPerInsert) return Flush();
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (rows_.empty()) return absl::OkStatus();
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt,
                                   conn_.Prepare(sql_.Sql(static_cast<int>(rows_.size()))));
    int first = 1;
    for (const Row& row : rows_) {
      bind_(stmt, first, row);
      first += sql_.columns();
    }
    rows_.clear();
    return stmt.Run();
  }

 private:
  sql::Conn& conn_;
  const MultiRowSql& sql_;
  BindFn bind_;
  std::vector<Row> rows_;
};

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_ROW_BATCH_H_
