// fs_fixture.h — GoogleTest fixture with a real RocksDB store and a
// Filesystem on it (no FUSE), for the tests of fs/.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fs/filesystem.h"
#include "tests/unit/test_util.h"

namespace pmklc::testing {

class FsFixture : public ::testing::Test {
 protected:
  // Options of the store (at creation) and of the Filesystem.
  virtual StoreOptions StoreOpts() const { return {}; }
  virtual FsOptions FsOpts() const { return {}; }

  void SetUp() override { Open(); }
  void Open() {
    auto s = Store::Open(dir_.sub("store"), StoreOpts());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    fs_ = std::make_unique<Filesystem>(store_.get(), FsOpts());
    ASSERT_TRUE(fs_->Recover().ok());
  }
  // Shutdown, close everything, open again (empty caches).
  void Reopen() {
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    store_.reset();
    Open();
  }
  // The whole file through Filesystem::Read.
  std::string ReadAll(uint64_t ino) {
    InodeAttr a;
    EXPECT_TRUE(fs_->GetAttr(ino, &a).ok());
    std::string out(a.size, '\0');
    auto r = fs_->Read(ino, 0, out.size(), out.data());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    out.resize(r.ok() ? *r : 0);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Filesystem> fs_;
  Caller caller_;
};

}  // namespace pmklc::testing
