// The mount option table (fs/mount_options.h): every option parses its
// allowed values, refuses bad ones in one line naming it, and README's
// table is the table's own.
#include "fs/mount_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/common/parse.h"

namespace pmklc {
namespace {

Result<MountConfig> P(std::initializer_list<const char*> o) {
  std::vector<std::string> v(o.begin(), o.end());
  return ParseMountOptions(v);
}

void ExpectRefused(const char* opt, const char* allowed_part) {
  auto r = P({opt});
  ASSERT_FALSE(r.ok()) << opt;
  const std::string m = r.status().message();
  EXPECT_NE(m.find(std::string("option ") + opt), std::string::npos) << m;
  EXPECT_NE(m.find(allowed_part), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(MountOptions, EveryOptionTakesItsValues) {
  auto r = P({"allow_other", "default_permissions", "log_level=debug", "cache_size=1G", "dirty_file_limit=64M",
              "dirty_limit=512M", "zstd_level=19", "codec=zstd", "block_size=64K", "min_free=1G", "threads=4",
              "noatime", "archive_profile=balanced", "archive_delay=0", "archive_threads=2", "archive_group=8M",
              "references=off", "ref_segments=2", "ref_depth=1", "ref_cache=3G", "device=cpu"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const MountConfig& c = *r;
  EXPECT_TRUE(c.allow_other);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.fs.cache_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c.fs.dirty_file_bytes, 64u << 20);
  EXPECT_EQ(c.fs.dirty_total_bytes, 512u << 20);
  EXPECT_EQ(c.fs.encode.zstd_level, 19);
  EXPECT_EQ(c.fs.encode.codec, CodecId::kZstd);
  EXPECT_FALSE(c.fs.encode.fasta);
  EXPECT_EQ(c.store.block_size, 64u << 10);
  EXPECT_EQ(c.store.min_free_bytes, uint64_t{1} << 30);
  EXPECT_EQ(c.threads, 4u);
  EXPECT_TRUE(c.fs.noatime);
  EXPECT_EQ(c.fuse_opts, std::vector<std::string>{"noatime"});
  EXPECT_EQ(c.archive.profile, "balanced");
  EXPECT_EQ(c.archive.delay_s, 0u);
  EXPECT_EQ(c.archive.threads, 2u);
  EXPECT_EQ(c.store.group_bytes, 8u << 20);
  EXPECT_FALSE(c.archive.references);
  EXPECT_EQ(c.archive.ref_segments, 2u);
  EXPECT_EQ(c.archive.ref_depth, 1u);
  EXPECT_EQ(c.fs.ref_cache_bytes, size_t{3} << 30);
  EXPECT_EQ(c.archive.ref_cache_bytes, size_t{3} << 30);
  EXPECT_EQ(c.archive.device.kind, DeviceChoice::kCpu);
  auto g = P({"device=cuda:3"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->archive.device.kind, DeviceChoice::kCuda);
  EXPECT_EQ(g->archive.device.gpu, 3);
  // Defaults when nothing is given.
  auto d = P({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->fs.cache_bytes, 128u << 20);
  EXPECT_EQ(d->archive.profile, "max");
  EXPECT_EQ(d->archive.device.kind, DeviceChoice::kAuto);
  EXPECT_EQ(d->threads, 10u);
  // codec=auto and raw.
  auto a = P({"codec=raw"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->fs.encode.codec, CodecId::kRaw);
  a = P({"codec=auto"});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->fs.encode.fasta);
}

TEST(MountOptions, BadValuesAreRefusedInOneLineNamingTheOption) {
  ExpectRefused("codec=fasta-cm", "auto|zstd|raw|fasta2bit");
  ExpectRefused("codec=fasta-neural", "auto|zstd|raw|fasta2bit");
  ExpectRefused("ref_segments=4x", "1..4");
  ExpectRefused("ref_segments=0", "1..4");
  ExpectRefused("ref_segments=5", "1..4");
  ExpectRefused("ref_depth=3", "1..2");
  ExpectRefused("zstd_level=0", "1..19");
  ExpectRefused("zstd_level=-1", "1..19");
  ExpectRefused("threads=", "1..256");
  ExpectRefused("archive_threads=65", "1..64");
  ExpectRefused("device=gpu", "auto|cpu|cuda|cuda:0");
  ExpectRefused("archive_delay=soon", "0..");
  ExpectRefused("cache_size=12Q", "K, M, G or T");
  ExpectRefused("cache_size=1.5G", "K, M, G or T");
  ExpectRefused("cache_size=-1", "K, M, G or T");
  ExpectRefused("cache_size=99999999999999999999", "K, M, G or T");
  ExpectRefused("dirty_limit=1K", "K, M, G or T");
  ExpectRefused("dirty_file_limit=1", "K, M, G or T");
  ExpectRefused("min_free=lots", "K, M, G or T");
  ExpectRefused("ref_cache=2P", "K, M, G or T");
  ExpectRefused("block_size=100K", "power of two");
  ExpectRefused("block_size=32M", "4K..16M");
  ExpectRefused("archive_group=3M", "power of two");
  ExpectRefused("archive_group=128M", "4K..64M");
  ExpectRefused("log_level=loud", "trace|debug|info|warn|error|critical|off");
  ExpectRefused("archive_profile=turbo", "max|balanced|neural|off");
  ExpectRefused("references=yes", "on|off");
  ExpectRefused("noatime=1", "no value");
  ExpectRefused("allow_other=yes", "no value");
  ExpectRefused("default_permissions=0", "no value");
  auto r = P({"block_size=1M", "archive_group=512K"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("smaller than block_size"), std::string::npos);
}

TEST(MountOptions, OthersGoToFuseAndFstabOnlyOnesAreDropped) {
  auto r = P({"ro", "nosuid", "fsname=x", "_netdev", "nofail", "x-systemd.automount", "defaults"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fuse_opts, (std::vector<std::string>{"ro", "nosuid", "fsname=x"}));
}

TEST(MountOptions, SizesAreParsedOneWayEverywhere) {
  EXPECT_EQ(*ParseSize("3G", "x"), uint64_t{3} << 30);
  EXPECT_EQ(*ParseSize("4k", "x"), 4096u);
  EXPECT_EQ(*ParseSize("2T", "x"), uint64_t{2} << 40);
  EXPECT_EQ(*ParseSize("100", "x"), 100u);
  for (const char* bad : {"", "M", "4x", "4MB", "4 M", "+4M", "0x10", "1.5M", "18446744073709551616"})
    EXPECT_FALSE(ParseSize(bad, "x").ok()) << bad;
  EXPECT_FALSE(ParseSize("20000000T", "x").ok());  // overflows 64 bits
  EXPECT_FALSE(ParseSize("3G", "-B", 4096, 64u << 20).ok());
  EXPECT_EQ(FormatSize(3ull << 30), "3G");
  EXPECT_EQ(FormatSize(1536 * 1024), "1536K");
  EXPECT_FALSE(ParseUint("4x", "n").ok());
  EXPECT_EQ(*ParseUint("42", "n", 1, 64), 42u);
}

TEST(MountOptions, RoFollowTakesAnIntervalOrNone) {
  auto bare = ParseMountOptions({"ro_follow"});
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(bare->follow_s, 30u);
  EXPECT_TRUE(bare->store.follow);
  auto five = ParseMountOptions({"ro_follow=5"});
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->follow_s, 5u);
  EXPECT_EQ(ParseMountOptions({}).value().follow_s, 0u);  // a writer mount
  EXPECT_FALSE(ParseMountOptions({"ro_follow=0"}).ok());
  EXPECT_FALSE(ParseMountOptions({"ro_follow=x"}).ok());
  // Options that take a value still require one.
  EXPECT_FALSE(ParseMountOptions({"threads"}).ok());
}

TEST(MountOptions, ReadmeShowsTheTable) {
  std::ifstream f(std::string(PMKLC_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string readme = ss.str();
  const std::string head = "| option | values | default | meaning |";
  const size_t b = readme.find(head);
  ASSERT_NE(b, std::string::npos);
  const size_t e = readme.find("\n\n", b);
  const std::string table = readme.substr(b, e - b + 1);
  EXPECT_EQ(table, MountOptionsMarkdown()) << "README's option table must be:\n" << MountOptionsMarkdown();
  EXPECT_NE(MountOptionsHelp().find("ref_segments=\n"), std::string::npos);
}

}  // namespace
}  // namespace pmklc
