#include "tests/mount/slurm_cluster.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/mount/mount_fixture.h"

namespace pmklc::mt {

std::string SlurmCluster::Start() {
  if (geteuid() != 0) return "not root";
  for (const char* b : {"/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"})
    if (!std::filesystem::exists(b)) return std::string(b) + " is missing (./install.sh installs munge and slurm-wlm)";
  std::string out;
  for (const char* d : {"/state", "/spool", "/log"}) std::filesystem::create_directories(dir_ + d);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string h = std::string(host).substr(0, std::string(host).find('.'));
  // Ports of this process's own, so that tests in parallel do not meet.
  const int port = 20000 + static_cast<int>(getpid() % 20000) * 2;
  {
    std::ofstream c(dir_ + "/slurm.conf");
    c << "ClusterName=pmklctest\nSlurmctldHost=" << h << "\nAuthType=auth/munge\nAuthInfo=socket=" << dir_
      << "/munge.sock\nCredType=cred/munge\nSlurmUser=root\nSlurmdUser=root\nSlurmctldPort=" << port
      << "\nSlurmdPort=" << port + 1 << "\nStateSaveLocation=" << dir_ << "/state\nSlurmdSpoolDir=" << dir_
      << "/spool\nSlurmctldPidFile=" << dir_ << "/slurmctld.pid\nSlurmdPidFile=" << dir_
      << "/slurmd.pid\nSlurmctldLogFile=" << dir_ << "/log/slurmctld.log\nSlurmdLogFile=" << dir_
      << "/log/slurmd.log\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\n"
         "SelectTypeParameters=CR_Core\nSchedulerType=sched/builtin\nMpiDefault=none\nReturnToService=2\n"
         "JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n"
         "JobAcctGatherType=jobacct_gather/none\nNodeName="
      << h << " CPUs=" << std::max(1u, std::thread::hardware_concurrency())
      << " State=UNKNOWN\nPartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n";
  }
  const std::string key = dir_ + "/munge.key";
  if (Sh("dd if=/dev/urandom of=" + key + " bs=1 count=1024 2>/dev/null && chmod 400 " + key) != 0)
    return "cannot write a munge key";
  if (Sh("/usr/sbin/munged -f --socket=" + dir_ + "/munge.sock --key-file=" + key + " --log-file=" + dir_ +
             "/log/munged.log --pid-file=" + dir_ + "/munged.pid --seed-file=" + dir_ + "/munged.seed 2>&1",
         &out) != 0)
    return "munged: " + out;
  started_ = true;
  if (Sh(Env() + "/usr/sbin/slurmctld -i 2>&1", &out) != 0) return "slurmctld: " + out;
  if (Sh(Env() + "/usr/sbin/slurmd 2>&1", &out) != 0) return "slurmd: " + out;
  for (int i = 0; i < 100; ++i) {
    if (Sh(Env() + "sinfo -h -o %t 2>/dev/null", &out) == 0 && out.find("idle") != std::string::npos) return "";
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  Sh("tail -3 " + dir_ + "/log/slurmctld.log " + dir_ + "/log/slurmd.log 2>&1", &out);
  return "the node did not become idle: " + out;
}

bool SlurmCluster::WaitIdle(int timeout_s) {
  std::string out;
  for (int i = 0; i < timeout_s * 5; ++i) {
    out.clear();  // (Sh appends)
    if (Sh(Env() + "squeue -h 2>/dev/null", &out) == 0 && out.find_first_not_of(" \n") == std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

SlurmCluster::~SlurmCluster() {
  if (!started_) return;
  for (const char* pid : {"/slurmd.pid", "/slurmctld.pid", "/munged.pid"})
    Sh("kill $(cat " + dir_ + pid + " 2>/dev/null) 2>/dev/null; true");
  // (they exit within a moment; the next cluster uses other ports)
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

}  // namespace pmklc::mt
