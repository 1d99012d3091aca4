// commands.h — the pmklc subcommands (internal to tools/). Each returns the
// process exit code and prints its own one-line errors.
#pragma once
#include <cstdint>
#include <string>

namespace pmklc::cli {

struct CompressArgs {
  std::string in, out;          // "-" = stdin / stdout
  std::string profile = "fast"; // Default: fast
  bool to_stdout = false;       // -c. Default: false
  bool force = false;           // -f: overwrite. Default: false
  bool verbose = false;         // -v: print sizes. Default: false
  // -B. Default: 1 MiB (protein FASTA needs the context: protein_uniprot is
  // 5.32 MB at 1 MiB vs 5.72 MB at 128 KiB; nucleotide FASTA differs < 0.2%).
  uint32_t block_size = 1u << 20;
  bool block_size_given = false;  // -B was given (max then keeps it; else 16 MiB)
};
int RunCompress(const CompressArgs& a);
int RunDecompress(const CompressArgs& a);
int RunStat(const std::string& store, bool json);
// threads: workers decoding archived groups. Default (CLI): all cores.
int RunFsck(const std::string& store, unsigned threads);

struct ArchiveArgs {
  std::string store;
  bool wait = false;             // --wait: return when the pass has ended. Default: false
  std::string profile = "max";   // -p, offline only (a mount uses archive_profile=). Default: max
  unsigned threads = 1;          // -j, offline only. Default: 1
};
int RunArchive(const ArchiveArgs& a);
}  // namespace pmklc::cli
