// MinHash sketches of nucleotide codes (ref_select.h).
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>

#include "engine/codec/endian.h"
#include "engine/fasta/varint.h"
#include "engine/ref/kmer_hash.h"
#include "engine/ref/ref_select.h"

namespace pmklc::ref {

void SketchBuilder::Offer(uint64_t h) {
  if (heap_.size() >= kSketchSize && h >= heap_.front()) return;
  if (std::find(heap_.begin(), heap_.end(), h) != heap_.end()) return;
  if (heap_.size() >= kSketchSize) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
  heap_.push_back(h);
  std::push_heap(heap_.begin(), heap_.end());
}

void SketchBuilder::Add(std::string_view codes) {
  CanonicalKmers<kSketchK> roll{fw_, rc_, have_};
  uint64_t canon;
  for (char c : codes) {
    ++bases_;
    if (roll.Push(static_cast<uint8_t>(c), &canon)) Offer(KmerHash(canon) >> 32);  // 32 bits: 4 bytes a hash in the record
  }
  fw_ = roll.fw, rc_ = roll.rc, have_ = roll.have;
}

Sketch SketchBuilder::Finish() {
  Sketch s;
  s.bases = bases_;
  s.mins = heap_;
  std::sort(s.mins.begin(), s.mins.end());
  return s;
}

// Record v2: u8 version, varint bases, varint n, u8 k, then the n hashes as
// ascending deltas (the first from 0), Rice-coded with parameter k: the
// quotient d >> k in unary (that many 1 bits, then a 0), then the k low bits,
// most significant first, packed MSB-first into bytes, zero-padded. k is
// floor(log2(mean delta)), so a bacterial sketch (deltas ~800) takes ~1.4 KB
// instead of v1's 4 KB. v1 (still read): u8 version, u64 LE bases,
// u32 LE n, n x u32 LE.
namespace {
constexpr uint8_t kSketchV1 = 1;

class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  void Put(uint32_t bit) {
    acc_ = static_cast<uint8_t>(acc_ << 1 | bit);
    if (++n_ == 8) out_->push_back(static_cast<char>(acc_)), acc_ = 0, n_ = 0;
  }
  void Flush() {
    while (n_) Put(0);
  }

 private:
  std::string* out_;
  uint8_t acc_ = 0;
  int n_ = 0;
};

class BitReader {
 public:
  explicit BitReader(std::string_view in) : in_(in) {}
  // False past the end.
  bool Get(uint32_t* bit) {
    if (pos_ >= 8 * in_.size()) return false;
    *bit = (static_cast<uint8_t>(in_[pos_ >> 3]) >> (7 - (pos_ & 7))) & 1;
    ++pos_;
    return true;
  }
  size_t bytes_used() const { return (pos_ + 7) >> 3; }
  // True when the bits left in the current byte (the padding) are all 0.
  bool PaddingIsZero() const {
    return (pos_ & 7) == 0 || (static_cast<uint8_t>(in_[pos_ >> 3]) & (0xff >> (pos_ & 7))) == 0;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Result<Sketch> ParseV1(std::string_view in) {
  if (in.size() < 13) return Status::Corruption("sketch: truncated");
  Sketch s;
  s.bases = LoadLE64(in.data() + 1);
  const uint32_t n = LoadLE32(in.data() + 9);
  if (n > kSketchSize || in.size() != 13 + 4 * size_t{n}) return Status::Corruption("sketch: bad length");
  s.mins.resize(n);
  for (uint32_t i = 0; i < n; ++i) s.mins[i] = LoadLE32(in.data() + 13 + 4 * i);
  return s;
}

uint8_t RiceParameter(const std::vector<uint64_t>& mins) {
  const uint64_t mean = mins.empty() ? 0 : mins.back() / mins.size();
  uint8_t k = 0;
  while (k < 31 && (uint64_t{2} << k) <= mean) ++k;
  return k;
}

Result<Sketch> ParseV2(std::string_view in) {
  Reader rd(in.substr(1));
  uint64_t n = 0;
  uint8_t k = 0;
  Sketch s;
  if (!rd.GetVarint(&s.bases) || !rd.GetVarint(&n) || !rd.GetByte(&k)) return Status::Corruption("sketch: truncated");
  if (n > kSketchSize || k > 31) return Status::Corruption("sketch: bad header");
  const std::string_view bits = rd.rest();
  BitReader br(bits);
  s.mins.resize(n);
  uint64_t h = 0;
  for (uint64_t& m : s.mins) {
    uint64_t q = 0;
    uint32_t bit = 0;
    for (;;) {
      if (!br.Get(&bit)) return Status::Corruption("sketch: truncated");
      if (!bit) break;
      if (++q > (uint64_t{0xffffffff} >> k)) return Status::Corruption("sketch: hash out of range");
    }
    uint64_t d = q << k;
    for (int b = k - 1; b >= 0; --b) {
      if (!br.Get(&bit)) return Status::Corruption("sketch: truncated");
      d |= uint64_t{bit} << b;
    }
    h += d;
    if (h > 0xffffffff) return Status::Corruption("sketch: hash out of range");
    m = h;
  }
  if (br.bytes_used() != bits.size() || !br.PaddingIsZero()) return Status::Corruption("sketch: bad length");
  return s;
}
}  // namespace

std::string Sketch::Serialize() const {
  std::string out;
  out.push_back(static_cast<char>(kSketchVersion));
  PutVarint(&out, bases);
  PutVarint(&out, mins.size());
  const uint8_t k = RiceParameter(mins);
  out.push_back(static_cast<char>(k));
  BitWriter w(&out);
  uint64_t prev = 0;
  for (uint64_t h : mins) {
    const uint64_t d = h - prev;
    prev = h;
    for (uint64_t q = d >> k; q; --q) w.Put(1);
    w.Put(0);
    for (int b = k - 1; b >= 0; --b) w.Put(static_cast<uint32_t>(d >> b) & 1);
  }
  w.Flush();
  return out;
}

Result<Sketch> Sketch::Parse(std::string_view in) {
  if (in.empty()) return Status::Corruption("sketch: empty record");
  const uint8_t version = static_cast<uint8_t>(in[0]);
  if (version != kSketchV1 && version != kSketchVersion)
    return Status::Corruption("sketch: unknown version " + std::to_string(version));
  Result<Sketch> r = version == kSketchV1 ? ParseV1(in) : ParseV2(in);
  if (!r.ok()) return r;
  if (std::adjacent_find(r->mins.begin(), r->mins.end(), std::greater_equal<>()) != r->mins.end())
    return Status::Corruption("sketch: not ascending");
  return r;
}

double Jaccard(const Sketch& a, const Sketch& b) {
  if (a.mins.empty() || b.mins.empty()) return 0;
  // The s smallest hashes of the union; count those in both.
  size_t i = 0, j = 0, seen = 0, both = 0;
  while (seen < kSketchSize && (i < a.mins.size() || j < b.mins.size())) {
    if (j >= b.mins.size() || (i < a.mins.size() && a.mins[i] < b.mins[j])) {
      ++i;
    } else if (i >= a.mins.size() || b.mins[j] < a.mins[i]) {
      ++j;
    } else {
      ++both, ++i, ++j;
    }
    ++seen;
  }
  return seen ? static_cast<double>(both) / static_cast<double>(seen) : 0;
}

}  // namespace pmklc::ref
