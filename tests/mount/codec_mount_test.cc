// The FASTA codecs inside the mount (issue #3): genomes copied in are stored
// with fasta2bit, read back byte-exact, and take within 1% of the bytes that
// `pmklc compress -p fast` needs for the same files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/mount/mount_fixture.h"

namespace pmklc::mt {
namespace {

using CodecMountTest = MountTest;

TEST_F(CodecMountTest, EvalGenomesStoreWithin1PercentOfCompressFast) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  uint64_t container = 0;
  std::vector<const CorpusFile*> eval;
  for (const auto& f : corpus)
    if (f.role == "eval") eval.push_back(&f);
  ASSERT_GE(eval.size(), 2u);
  for (const CorpusFile* f : eval) {
    ASSERT_EQ(Sh("cp " + f->path + " " + M(f->name + ".fa")), 0);
    std::string out = T(f->name + ".pmklc");
    ASSERT_EQ(Sh(std::string(PMKLC_BIN) + " compress -p fast -f -o " + out + " " + f->path), 0);
    struct stat st;
    ASSERT_EQ(stat(out.c_str(), &st), 0);
    container += static_cast<uint64_t>(st.st_size);
  }
  ASSERT_TRUE(Remount());
  for (const CorpusFile* f : eval) EXPECT_EQ(Md5OfFile(M(f->name + ".fa")), Md5OfFile(f->path)) << f->name;
  ASSERT_TRUE(Unmount());
  std::string json;
  ASSERT_EQ(Sh(std::string(PMKLC_BIN) + " stat --json " + store_dir(), &json), 0) << json;
  const uint64_t stored = JsonField(json, "stored_bytes");
  EXPECT_NE(json.find("\"fasta2bit\""), std::string::npos) << json;
  EXPECT_LE(static_cast<double>(stored), 1.01 * static_cast<double>(container))
      << "mount " << stored << " vs compress -p fast " << container;
  std::string out;
  EXPECT_EQ(Fsck(&out), 0) << out;
}

TEST_F(CodecMountTest, MixedFilesPickTheirCodecsAndReadBack) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  for (const char* name : {"protein_uniprot", "reads_gatb", "lambda"}) {
    const CorpusFile* f = FindCorpus(corpus, name);
    ASSERT_NE(f, nullptr) << name;
    ASSERT_EQ(Sh("cp " + f->path + " " + M(std::string(name) + ".fa")), 0);
  }
  ASSERT_EQ(Sh("head -c 3145728 /dev/urandom > " + T("rand.bin") + " && cp " + T("rand.bin") + " " + M("rand.bin")), 0);
  ASSERT_TRUE(Remount());
  for (const char* name : {"protein_uniprot", "reads_gatb", "lambda"})
    EXPECT_EQ(Md5OfFile(M(std::string(name) + ".fa")), Md5OfFile(FindCorpus(corpus, name)->path)) << name;
  EXPECT_EQ(Md5OfFile(M("rand.bin")), Md5OfFile(T("rand.bin")));
  ASSERT_TRUE(Unmount());
  std::string json;
  ASSERT_EQ(Sh(std::string(PMKLC_BIN) + " stat --json " + store_dir(), &json), 0);
  EXPECT_NE(json.find("\"fasta-protein\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"fasta2bit\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"raw\""), std::string::npos) << json;  // random bytes do not compress
}

}  // namespace
}  // namespace pmklc::mt
