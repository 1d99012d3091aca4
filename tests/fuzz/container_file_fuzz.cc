// libFuzzer target for the random-access container reader (ContainerFile:
// collections, `pmklc decompress -m`): any input must open and read every
// member, or fail cleanly; blocks naming other blocks (fasta-ref) resolve
// them through the same file, never past the block itself.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/container/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("container", 0);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  auto f = pmklc::ContainerFile::Open("/proc/self/fd/" + std::to_string(fd));
  if (f.ok()) {
    uint64_t out = 0;
    for (size_t i = 0; i < (*f)->members().size() && i < 64; ++i)
      (void)(*f)->ReadMember(i, [&](std::string_view b) {
        out += b.size();
        return pmklc::Status::OK();
      });
  }
  close(fd);
  return 0;
}
