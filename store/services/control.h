// control.h — the mount daemon's control socket: how `pmklc archive STORE`
// reaches the daemon that has STORE open.
//
// The socket is an abstract AF_UNIX stream socket named after the store's
// canonical path (nothing is created on disk; it disappears with the
// daemon). A request is one line; the reply runs to EOF: "ok ..." (one
// line), "ok\n" followed by a multi-line body, or "error MESSAGE". Only root and the daemon's own user may send requests
// (checked with SO_PEERCRED).
//
// Requests: "archive" (start a pass now, ignoring archive_delay; reply at
// once), "archive-wait" (reply when that pass has ended, with the number of
// files skipped because they were open for writing), "stat" and "stat-json"
// (the store report of store/services/store_report.h, computed by the daemon).
//
// Thread safety: ControlServer accepts on one thread and serves up to
// kWorkers clients at once on worker threads (a long `archive-wait` never
// holds up a `stat`); up to kQueue more wait for a worker, and past that a
// client gets "error busy". The handler is called concurrently from the
// workers and must be thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>
#include <functional>
#include <string>
#include <thread>

#include "engine/common/status.h"

namespace pmklc {

class ControlServer {
 public:
  // handler(request line) returns the reply line (without newline).
  using Handler = std::function<std::string(const std::string&)>;
  ControlServer() = default;
  ~ControlServer();  // Stop()
  // Binds the socket of store_path; Busy if another daemon serves that store.
  Status Start(const std::string& store_path, Handler handler);
  void Stop();

  static constexpr size_t kWorkers = 4;
  static constexpr size_t kQueue = 16;

 private:
  void Loop();
  void Work();
  void Serve(int client);
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  Handler handler_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> clients_;  // accepted, waiting for a worker (guarded by mu_)
  bool stop_ = false;        // guarded by mu_
  std::vector<std::thread> workers_;
};

// Sends one request to the daemon serving store_path. NotFound if none is
// listening; the reply otherwise: the "ok ..." line, or the body after a bare
// "ok" line (an "error ..." reply becomes IOError).
Result<std::string> ControlRequest(const std::string& store_path, const std::string& request);

}  // namespace pmklc
