// The sbatch scripts of a distributed archive and their submission (slurm_jobs.h).
#include "tools/slurm_jobs.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace pmklc::cli {

namespace {


Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Status::IOError(path + ": cannot write");
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec,
                               std::filesystem::perm_options::add, ec);
  return Status::OK();
}

// Runs cmd with sh, returning its stdout (trimmed); Busy-free one-line errors.
Result<std::string> Run(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return Status::IOError("cannot run: " + cmd);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (rc != 0) {
    const std::string first = out.substr(0, out.find('\n'));
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127)
      return Status::NotFound("sbatch not found (install slurm-client, or use --print and submit yourself)");
    return Status::IOError(cmd + ": " + (first.empty() ? "failed" : first));
  }
  return out;
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result<SlurmScripts> WriteSlurmScripts(const SlurmJobOptions& o) {
  const std::string sd = o.dir + "/slurm";
  std::error_code ec;
  std::filesystem::create_directories(sd, ec);
  if (ec) return Status::IOError(sd + ": " + ec.message());
  auto common = [&](const std::string& name) {
    std::string s = "#!/bin/sh\n#SBATCH --job-name=" + name + "\n";
    if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
    if (!o.time_limit.empty()) s += "#SBATCH --time=" + o.time_limit + "\n";
    return s;
  };
  SlurmScripts out;
  out.work_path = sd + "/work.sbatch";
  out.ingest_path = sd + "/ingest.sbatch";
  out.work = common("pmklc-work");
  out.work += "#SBATCH --array=0-" + std::to_string(o.shards - 1) + "\n";
  out.work += "#SBATCH --cpus-per-task=" + std::to_string(o.cpus) + "\n";
  out.work += "#SBATCH --output=" + sd + "/work-%a.log\n";
  if (!o.gres.empty()) out.work += "#SBATCH --gres=" + o.gres + "\n";
  out.work += "# One shard of the export in " + o.dir + " (pmklc archive --work); rerunning a task is safe.\n";
  out.work += "exec " + ShellQuote(o.pmklc) + " archive --work " + ShellQuote(o.dir) + " --shard \"$SLURM_ARRAY_TASK_ID/" +
              std::to_string(o.shards) + "\" -j \"${SLURM_CPUS_PER_TASK:-" + std::to_string(o.cpus) +
              "}\" --device " + ShellQuote(o.device) + "\n";
  out.ingest = common("pmklc-ingest");
  out.ingest += "#SBATCH --output=" + sd + "/ingest.log\n";
  if (!o.ingest_node.empty()) out.ingest += "#SBATCH --nodelist=" + o.ingest_node + "\n";
  out.ingest += "# The results into the store (on its host; a mounted store's daemon ingests them itself).\n";
  if (o.next_round.empty()) {
    out.ingest += "exec " + ShellQuote(o.pmklc) + " archive " + ShellQuote(o.store) + " --ingest " + ShellQuote(o.dir) + "\n";
  } else {
    out.ingest += ShellQuote(o.pmklc) + " archive " + ShellQuote(o.store) + " --ingest " + ShellQuote(o.dir) + " || exit $?\n";
    out.ingest += "# Related files were left for a next round (they code against these): export and submit it.\n";
    out.ingest += "if [ -e " + ShellQuote(o.dir + "/deferred") + " ] && [ ! -e " + ShellQuote(o.dir + "/next/export") +
                  " ]; then\n  exec " + o.next_round + "\nfi\n";
  }
  PMKLC_RETURN_IF_ERROR(WriteText(out.work_path, out.work));
  PMKLC_RETURN_IF_ERROR(WriteText(out.ingest_path, out.ingest));
  return out;
}

Result<SlurmSubmitted> SubmitSlurmJobs(const SlurmScripts& s) {
  SlurmSubmitted r;
  auto w = Run("sbatch --parsable " + ShellQuote(s.work_path));
  if (!w.ok()) return w.status();
  r.work_job = w->substr(0, w->find(';'));
  auto i = Run("sbatch --parsable --dependency=afterany:" + r.work_job + " " + ShellQuote(s.ingest_path));
  if (!i.ok())
    return Status::IOError(i.status().message() + " (the workers are job " + r.work_job +
                           "; submit the ingest yourself: sbatch --dependency=afterany:" + r.work_job + " " +
                           s.ingest_path + ")");
  r.ingest_job = i->substr(0, i->find(';'));
  return r;
}

}  // namespace pmklc::cli
