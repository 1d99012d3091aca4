#include "store/services/control.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/codec/codec.h"
#include "engine/common/guarded.h"

namespace pmklc {

namespace {

// Abstract socket address of a store: "\0pmklcfs:" + canonical path, or a
// hash of it when the path is too long for sun_path.
socklen_t Address(const std::string& store_path, sockaddr_un* a) {
  std::error_code ec;
  std::string canon = std::filesystem::weakly_canonical(store_path, ec).string();
  if (ec) canon = std::filesystem::absolute(store_path, ec).string();
  std::string name = "pmklcfs:" + canon;
  if (name.size() > sizeof(a->sun_path) - 2) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(BlockChecksum(canon)));
    name = std::string("pmklcfs:h:") + hex;
  }
  std::memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  std::memcpy(a->sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

bool ReadLine(int fd, std::string* line, int timeout_ms) {
  line->clear();
  char c;
  while (line->size() < 4096) {
    if (timeout_ms >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return false;
    }
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
  }
  return false;
}

}  // namespace

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Start(const std::string& store_path, Handler handler) {
  handler_ = std::move(handler);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Status::IOError(std::string("control socket: ") + std::strerror(errno));
  sockaddr_un a;
  socklen_t len = Address(store_path, &a);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    int e = errno;
    close(fd_);
    fd_ = -1;
    if (e == EADDRINUSE) return Status::Busy("another daemon serves " + store_path);
    return Status::IOError(std::string("control socket bind: ") + std::strerror(e));
  }
  if (listen(fd_, 8) != 0 || pipe2(wake_, O_CLOEXEC) != 0) {
    close(fd_);
    fd_ = -1;
    return Status::IOError(std::string("control socket listen: ") + std::strerror(errno));
  }
  stop_ = false;
  for (size_t i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { Work(); });
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void ControlServer::Stop() {
  if (thread_.joinable()) {
    (void)!write(wake_[1], "x", 1);
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    for (int c : clients_) close(c);
    clients_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (int* f : {&fd_, &wake_[0], &wake_[1]}) {
    if (*f >= 0) close(*f);
    *f = -1;
  }
}

void ControlServer::Loop() {
  for (;;) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    bool queued = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (clients_.size() < kQueue) {
        clients_.push_back(c);
        queued = true;
      }
    }
    if (queued) {
      cv_.notify_one();
    } else {
      static const char kBusy[] = "error busy: too many control requests at once, try again\n";
      (void)!send(c, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL);
      close(c);
    }
  }
}

void ControlServer::Work() {
  for (;;) {
    int c;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !clients_.empty(); });
      if (stop_) return;
      c = clients_.front();
      clients_.pop_front();
    }
    Serve(c);
  }
}

void ControlServer::Serve(int c) {
  ucred cr{};
  socklen_t crl = sizeof cr;
  std::string line, reply;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 || (cr.uid != 0 && cr.uid != getuid())) {
    reply = "error permission denied\n";
  } else if (!ReadLine(c, &line, 5000)) {
    reply = "error no request\n";
  } else {
    // Nothing may take the daemon down from here.
    Status gs = Guarded("control request", [&] { reply = handler_(line); });
    if (!gs.ok()) reply = "error " + gs.ToString();
    if (reply.empty() || reply.back() != '\n') reply.push_back('\n');
  }
  for (size_t off = 0; off < reply.size();) {
    ssize_t n = send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  close(c);
}

Result<std::string> ControlRequest(const std::string& store_path, const std::string& request) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  sockaddr_un a;
  socklen_t len = Address(store_path, &a);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    close(fd);
    return Status::NotFound("no pmklcfs daemon serves " + store_path);
  }
  std::string req = request + "\n", reply;
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return Status::IOError("the daemon serving " + store_path + " closed the connection");
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (reply.empty()) return Status::IOError("the daemon serving " + store_path + " closed the connection");
  if (reply.rfind("error ", 0) == 0) {
    while (!reply.empty() && reply.back() == '\n') reply.pop_back();
    return Status::IOError(reply.substr(6));
  }
  if (reply.rfind("ok\n", 0) == 0) return reply.substr(3);  // a multi-line body follows "ok"
  while (!reply.empty() && reply.back() == '\n') reply.pop_back();
  return reply;
}

}  // namespace pmklc
