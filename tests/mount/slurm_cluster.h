// slurm_cluster.h — a real one-node Slurm cluster for tests (issue #20):
// munged, slurmctld and slurmd from Debian's munge and slurm-wlm packages,
// on this host, configured in a folder of the test's own (ports of its
// own, no cgroups: proctrack/linuxproc, task/none). Root only.
// Ownership: Start launches the daemons; the destructor stops them.
#pragma once

#include <string>

namespace pmklc::mt {

class SlurmCluster {
 public:
  explicit SlurmCluster(std::string dir) : dir_(std::move(dir)) {}
  ~SlurmCluster();
  // Empty when the cluster could be started (sinfo shows the node idle);
  // otherwise why not (a missing binary, not root, a daemon that failed).
  std::string Start();
  // Environment prefix for slurm commands: "SLURM_CONF=... ".
  std::string Env() const { return "SLURM_CONF=" + dir_ + "/slurm.conf "; }
  // Waits (at most timeout_s) until no job is queued or running.
  bool WaitIdle(int timeout_s);

 private:
  std::string dir_;
  bool started_ = false;
};

}  // namespace pmklc::mt
