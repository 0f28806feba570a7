// The row helpers every repository file shares (store/src/repositories_*.cc): a SELECT into
// row structs, its first row, a COUNT.
#pragma once

#include <soci/soci.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kaas/store/database.h"

namespace kaas::store {

// Runs `query` with `bind_row` binding the columns of one row and `bind_uses` its
// parameters, and returns every row.
template <typename Row>
std::vector<Row> Select(Tx& tx, const std::string& query, void (*bind_row)(soci::statement&, Row&),
                        const std::function<void(soci::statement&)>& bind_uses = {}) {
  Row row;
  soci::statement st(tx.sql());
  bind_row(st, row);
  if (bind_uses) bind_uses(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute();
  std::vector<Row> rows;
  while (st.fetch()) rows.push_back(row);
  return rows;
}

template <typename Row>
std::optional<Row> First(std::vector<Row> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

inline long CountOf(Tx& tx, const std::string& query, const std::string& arg) {
  long n = 0;
  tx.sql() << query, soci::use(arg), soci::into(n);
  return n;
}

}  // namespace kaas::store
