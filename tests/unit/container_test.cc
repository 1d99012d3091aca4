// The standalone container: round trip, empty input, and honest errors for
// truncated, corrupted or foreign input (never wrong bytes).
#include "engine/container/container.h"
#include "engine/codec/endian.h"
#include "tests/unit/container_util.h"
#include "engine/models/toknet_predictor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace pmklc {
namespace {

std::string Pack(const std::string& data, uint32_t bs = 4096) {
  std::string c;
  ContainerOptions co;
  co.block_size = bs;
  ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, co);
  EXPECT_TRUE(w.Append(data).ok());
  EXPECT_TRUE(w.Finish().ok());
  return c;
}

Status Unpack(const std::string& c, std::string* out) { return testing::ReadContainer(c, out); }

std::string Sample() {
  std::string s;
  std::mt19937 g(1);
  for (int r = 0; r < 40; ++r) {
    s += ">read" + std::to_string(r) + "\n";
    for (int i = 0; i < 700; ++i) s.push_back("ACGTN"[g() % 5]);
    s += "\n";
  }
  return s;
}

TEST(Container, RoundTripAndEmpty) {
  std::string data = Sample(), out;
  ASSERT_TRUE(Unpack(Pack(data), &out).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(Unpack(Pack(""), &out).ok());
  EXPECT_EQ(out, "");
}

TEST(Container, EveryTruncationIsAnErrorAndOutputIsAPrefix) {
  std::string data = Sample(), c = Pack(data), out;
  for (size_t cut = 0; cut < c.size(); ++cut) {
    Status s = Unpack(c.substr(0, cut), &out);
    ASSERT_FALSE(s.ok()) << "cut at " << cut;
    ASSERT_EQ(data.compare(0, out.size(), out), 0) << "wrong bytes before the error, cut " << cut;
  }
}

TEST(Container, FlippedBytesNeverYieldWrongBytes) {
  std::string data = Sample(), c = Pack(data), out;
  std::mt19937 g(2);
  int detected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = c;
    size_t at = g() % bad.size();
    bad[at] = static_cast<char>(bad[at] ^ (1 + g() % 255));
    Status s = Unpack(bad, &out);
    if (s.ok()) {
      ASSERT_EQ(out, data) << "byte " << at;
    } else {
      detected++;
      ASSERT_EQ(data.compare(0, out.size(), out), 0) << "byte " << at;
    }
  }
  EXPECT_GT(detected, 2900);
}

TEST(Container, BadBlockSizeIsAnErrorNotALoop) {
  for (uint32_t bs : {0u, 100u, 64u << 20}) {
    ContainerOptions co;
    co.block_size = bs;
    ContainerWriter w([](std::string_view) { return Status::OK(); }, co);
    EXPECT_EQ(w.Append("ACGT").code(), Status::Code::kInvalidArgument) << bs;
  }
}

TEST(Container, TrailingGarbageAndForeignInput) {
  std::string out;
  EXPECT_FALSE(Unpack(Pack(Sample()) + "x", &out).ok());
  Status s = Unpack("hello world, not a container", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a pmklc container"), std::string::npos);
  EXPECT_FALSE(Unpack("", &out).ok());
}

TEST(Container, ProfilesAndClearErrorsForOthers) {
  EXPECT_EQ(*ProfileFromName("fast"), 0);
  EXPECT_EQ(*ProfileFromName("balanced"), 1);
  EXPECT_EQ(*ProfileFromName("max"), 2);
  auto b = ContainerOptionsFor("balanced");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->encode.use_cm);
  EXPECT_EQ(b->encode.cm.Serialize(), CmParams::Balanced().Serialize());
  EXPECT_EQ(ContainerOptionsFor("max")->encode.cm.Serialize(), CmParams::Max().Serialize());
  EXPECT_FALSE(ContainerOptionsFor("fast")->encode.use_cm);
  EXPECT_EQ(*ProfileFromName("neural"), 3);
  auto n = ContainerOptionsFor("neural");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->encode.use_neural);
  EXPECT_EQ(n->block_size, 16u << 20);
  EXPECT_EQ(ProfileFromName("turbo").status().code(), Status::Code::kInvalidArgument);
}

TEST(Container, CarriesItsPrivateModel) {
  // A neural container whose blocks mix a private model stores the model
  // after its header, and a reader registers it before decoding blocks.
  auto m = std::make_shared<TokNetModel>();
  m->name = "container-private";
  m->shape = kernels::TokNetShape{3, 3, 4, 16};
  m->weights = TokNetInitialWeights(m->shape, 77);
  std::string model_bytes = SerializeModel(m.get());
  auto co = ContainerOptionsFor("neural");
  ASSERT_TRUE(co.ok());
  co->encode.neural.cm = CmParams::Balanced();
  co->encode.neural.select = false;
  co->encode.neural.dm = false;
  co->encode.neural.spum = nullptr;
  co->encode.neural.sprm = m;
  co->private_model = model_bytes;
  std::string in = ">x\n";
  std::mt19937 g(3);
  for (int i = 0; i < 20000; ++i) in.push_back("ACGT"[g() % 4]);
  in += "\n";
  std::string c;
  ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, *co);
  ASSERT_TRUE(w.Append(in).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_NE(c.find(model_bytes), std::string::npos);
  EXPECT_EQ(FindModel(m->id), nullptr) << "only the reader registers it";
  std::string back;
  ASSERT_TRUE(Unpack(c, &back).ok());
  EXPECT_EQ(back, in);
  EXPECT_NE(FindModel(m->id), nullptr);
  std::string bad = c;
  bad[16 + 4 + 100] ^= 1;  // inside the model record
  EXPECT_EQ(Unpack(bad, &back).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

// A FASTA genome whose later part repeats (diverged) pieces of its earlier
// part, forward and reverse complemented, so that a block coded with the
// blocks before it as context is much smaller than one coded alone.
std::string GenomeWithLongRepeats(size_t bases, uint32_t seed) {
  std::mt19937 g(seed);
  std::string nt;
  while (nt.size() < bases) {
    if (nt.size() > 20000 && g() % 3 == 0) {
      const size_t from = g() % (nt.size() - 3000), len = 500 + g() % 2500;
      const bool rc = g() % 2;
      for (size_t i = 0; i < len; ++i) {
        char b = rc ? "TGCA"[std::string("ACGT").find(nt[from + len - 1 - i])] : nt[from + i];
        nt.push_back(g() % 30 ? b : "ACGT"[g() % 4]);
      }
    } else {
      for (int i = 0; i < 400; ++i) nt.push_back("ACGT"[g() % 4]);
    }
  }
  nt.resize(bases);
  std::string fa = ">chrT whole-file context\n";
  for (size_t i = 0; i < nt.size(); i += 60) fa += nt.substr(i, 60) + "\n";
  return fa;
}

std::string PackWith(const std::string& data, ContainerOptions co) {
  std::string c;
  ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, co);
  EXPECT_TRUE(w.Append(data).ok());
  EXPECT_TRUE(w.Finish().ok());
  return c;
}

TEST(Container, MaxKeepsTheContextOfEarlierBlocks) {
  const std::string data = GenomeWithLongRepeats(400000, 3);
  auto co = ContainerOptionsFor("max");
  ASSERT_TRUE(co.ok());
  EXPECT_TRUE(co->whole_file_context);
  co->block_size = 64 << 10;  // 7 blocks: each sees the 4 before it
  const std::string with = PackWith(data, *co);
  EXPECT_NE(LoadLE16(with.data() + 10) & 8, 0) << "header flag bit 3 (whole-file context)";
  ContainerOptions alone = *co;
  alone.whole_file_context = false;
  const std::string without = PackWith(data, alone);
  EXPECT_EQ(LoadLE16(without.data() + 10) & 8, 0);
  EXPECT_LT(with.size(), without.size() * 85 / 100) << with.size() << " vs " << without.size();
  // The same bytes whatever the number of encoding workers.
  ContainerOptions par = *co;
  par.workers = 3;
  EXPECT_EQ(PackWith(data, par), with);
  // Decodes exactly, with any number of reader threads (it reads in order).
  for (int threads : {1, 4}) {
    std::string out;
    ASSERT_TRUE(testing::ReadContainer(with, &out, threads).ok());
    EXPECT_EQ(out, data);
  }
  // Every truncation is an error, and what came out before it is a prefix.
  for (size_t cut : {size_t{20}, with.size() / 3, with.size() / 2, with.size() - 30}) {
    std::string out;
    EXPECT_FALSE(testing::ReadContainer(with.substr(0, cut), &out).ok()) << cut;
    EXPECT_EQ(data.compare(0, out.size(), out), 0);
  }
  // A block that names a block outside the window the reader keeps fails
  // with a message, never wrong bytes: flip block 5's first reference to
  // block 0 (the fasta-ref list starts right after the 16-byte block header:
  // version, count, then per entry u64 object, u32 segment, u64 checksum).
  std::string bad = with;
  size_t pos = 16;
  for (int b = 0; b < 5; ++b) pos += 4 + LoadLE32(bad.data() + pos);
  char* value = bad.data() + pos + 4;
  ASSERT_EQ(value[1], static_cast<char>(CodecId::kFastaRef));
  ASSERT_EQ(value[17], 4) << "block 5 names the 4 blocks before it";
  ASSERT_EQ(LoadLE32(value + 18 + 8), 1u);
  StoreLE32(value + 18 + 8, 0);
  std::string out;
  Status s = testing::ReadContainer(bad, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("block 5"), std::string::npos) << s.message();
  EXPECT_EQ(out, data.substr(0, 5 * (64 << 10)));
}

TEST(Container, WholeFileContextSkipsBlocksThatAreNotGenomes) {
  std::string data = GenomeWithLongRepeats(150000, 4);
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "line " + std::to_string(i * 7919 % 10007) + " of a plain text file\n";
  data = text + data + text;
  auto co = ContainerOptionsFor("max");
  ASSERT_TRUE(co.ok());
  co->block_size = 32 << 10;
  const std::string c = PackWith(data, *co);
  std::string out;
  ASSERT_TRUE(testing::ReadContainer(c, &out).ok());
  EXPECT_EQ(out, data);
}

}  // namespace
}  // namespace pmklc
