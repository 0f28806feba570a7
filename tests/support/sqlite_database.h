#pragma once

// Test support (header only): a migrated SQLite database of its own in a fresh temporary
// directory, for unit tests of the services that keep their rules in the database.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "kaas/store/database.h"

namespace kaas::testing {

class SqliteDatabase {
 public:
  // The directory is named after `hint`, the process and the running test, so that tests
  // running in parallel never share one. Fails the test when the database cannot be opened.
  explicit SqliteDatabase(const std::string& hint) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-" + hint + "-" + std::to_string(getpid()) + "-" + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open("sqlite://" + (dir_ / "kaas.db").string(), 2);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return;
    db_ = std::move(db).value();
    Status migrated = db_->Migrate();
    EXPECT_TRUE(migrated.ok()) << migrated.ToString();
  }
  ~SqliteDatabase() {
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  store::Database& operator*() { return *db_; }
  store::Database* operator->() { return db_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
};

}  // namespace kaas::testing
