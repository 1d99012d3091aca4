// commands.h — the pmklc subcommands (internal to tools/). Each returns the
// process exit code and prints its own one-line errors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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
  // -j: W, blocks coded (or decoded) at the same time; the container's bytes
  // do not depend on it (the neural profile's dynamic models pass from each
  // block to the next whatever W is). Default: 1
  int workers = 1;
  // --no-smp: neural sub-blocks' DMs start cold (ablation). Default: SMP on
  bool no_smp = false;
  // --independent-blocks: max codes every block alone instead of against the
  // blocks before it (ContainerOptions::whole_file_context), so that
  // `decompress -j W` decodes W blocks at once and any block decodes by
  // itself. Default: false (max keeps the whole file's context)
  bool independent_blocks = false;
  // --models: neural candidates, a subset of "dm,spum,sprm" or "none"; the
  // selector still drops those that do not pay unless --no-select. Default:
  // empty = dm and the shipped spum when this build has one
  std::string models;
  bool no_select = false;
  // --private FILE: a private model (pmklc train file) the neural profile may
  // mix in; it is stored in the container. Default: none
  std::string private_model;
  // --ref FILE: code FASTA blocks against this reference file (fast, balanced
  // or max; issue #6). Decompressing needs the same file. Default: none
  std::string reference;
  // compress -o OUT A B ...: a collection container of the inputs (members
  // named by their base names); decompress -m NAME: only that member.
  // Default: none
  std::vector<std::string> inputs;
  std::string collection_out;
  std::string member;
  bool list = false;  // decompress -l: list members. Default: false
  // --device auto|cpu|cuda[:N]: where the balanced profile's nucleotide
  // streams are coded (engine/models/cm_batch.h); the bytes are the same on
  // every device. auto: the GPUs when there are any. Default: auto
  std::string device = "auto";
  bool workers_given = false;  // -j was given (with a GPU, compress's W is otherwise 64)
};
int RunCompress(const CompressArgs& a);
// compress FILE...: each input to FILE.pmklc (or a.out for one input);
// never overwrites an input; 0 if every file succeeded, 1 else, 2 usage.
int RunCompressFiles(const CompressArgs& a);
// decompress FILE...: each .pmklc beside it (or a.out for one input), or
// lists members with a.list; same exit codes.
int RunDecompressFiles(const CompressArgs& a);
// compress -o OUT FILES...: a collection container.
int RunCompressCollection(const CompressArgs& a);
int RunDecompress(const CompressArgs& a);
// files: per-file stored bytes (StoreFileReport) instead of the report.
// human: -h, sizes as "1.5 GiB".
int RunStat(const std::string& store, bool json, bool files = false, bool human = false);
// threads: workers decoding archived groups. Default (CLI): all cores.
int RunFsck(const std::string& store, unsigned threads);

struct ArchiveArgs {
  std::string store;
  bool wait = false;             // --wait: return when the pass has ended. Default: false
  std::string profile = "max";   // -p, offline only (a mount uses archive_profile=). Default: max
  unsigned threads = 1;          // -j, offline only. Default: 1
  // Offline only (a mount uses references=, ref_segments=, ref_depth=):
  // code FASTA against related stored files (store/services/archiver.h). Default: on, 4, 2
  std::string references = "on";
  unsigned ref_segments = 4;
  unsigned ref_depth = 2;
  // --device, offline only (a mount uses device=): where balanced groups are
  // coded (engine/models/cm_batch.h). Default: auto
  std::string device = "auto";
  // --split SIZE, offline only (a mount uses archive_split=): groups coded as
  // parts of SIZE that decode alone (store/services/archiver.h). Default: 0 (off)
  std::string split = "0";
  // Distributed archiving (store/services/archive_units.h). Default: none
  std::string export_dir;  // --export DIR (with --shards N, Default 1)
  unsigned shards = 1;
  std::string work_dir;    // --work DIR --shard I/N
  std::string shard;
  std::string ingest_dir;  // --ingest DIR
  // --ingest-as: an unmounted store's shards go in as SST files ("files")
  // or one WriteBatch a group ("batches", as a mounted store's daemon
  // does). Default: files
  std::string ingest_as = "files";
  // --defer-related (with --export): a file related to one earlier in the
  // same export is left for the next export (on) or coded without it (off).
  // Default: on
  std::string defer_related = "on";
  // --slurm (with --export DIR): then submit the workers as a job array and
  // the ingest as a job after them (tools/slurm_jobs.h). Default: off
  bool slurm = false;
  std::string partition, gres, time_limit;  // #SBATCH lines; Default: none (the site's)
  bool print = false;                       // --print: write the scripts, submit nothing
};
int RunArchive(const ArchiveArgs& a);
// pmklc train private STORE [--sample-mb N] [trainer options].
int RunTrainPrivate(const std::vector<std::string>& args);
// Runs the LibTorch trainer, pmklc-train (next to this binary, else on PATH),
// with args, and returns its exit status (127: it could not be run).
int RunTrainer(std::vector<std::string> args);
}  // namespace pmklc::cli
