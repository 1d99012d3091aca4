// slurm_jobs.h — `pmklc archive --slurm` (issue #20; README §Archiving on a
// cluster): the sbatch scripts of an export's workers (a job array, one task
// a shard) and of its ingest, written into DIR/slurm, and their submission
// with sbatch (the ingest after the workers, afterany: it ingests the shards
// that are done and reports the others). When the export left related
// files for a later round (DIR/deferred), the ingest job then exports them
// into DIR/next and submits that round the same way, until none is left.
// Errors: a missing sbatch, or an sbatch that refuses a script, is one line
// naming the command; scripts already written stay for a manual submit.
#pragma once

#include <string>

#include "engine/common/status.h"

namespace pmklc::cli {

// s single-quoted for sh ('it'\''s').
std::string ShellQuote(const std::string& s);

struct SlurmJobOptions {
  std::string pmklc;       // absolute path of the pmklc the jobs run (visible on the nodes)
  std::string store;       // absolute store path (the ingest job's)
  std::string dir;         // absolute export directory (shared storage)
  unsigned shards = 1;
  unsigned cpus = 1;       // per worker: -j and --cpus-per-task
  std::string device = "auto";
  std::string partition, gres, time_limit;  // empty: not set
  std::string ingest_node; // the store's host; empty: any node
  // The command (for sh) that exports and submits the next round when the
  // export left related files for it (DIR/deferred); empty: none.
  std::string next_round;
};

struct SlurmScripts {
  std::string work_path, ingest_path;
  std::string work, ingest;  // their text
};

// Writes DIR/slurm/work.sbatch and DIR/slurm/ingest.sbatch.
[[nodiscard]] Result<SlurmScripts> WriteSlurmScripts(const SlurmJobOptions& o);

struct SlurmSubmitted {
  std::string work_job, ingest_job;
};
// sbatch --parsable of both, the ingest with --dependency=afterany:<work job>.
[[nodiscard]] Result<SlurmSubmitted> SubmitSlurmJobs(const SlurmScripts& s);

}  // namespace pmklc::cli
