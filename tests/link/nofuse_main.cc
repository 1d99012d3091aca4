// A program made of the non-mount commands only (pmklc_cli): compress,
// decompress, stat, fsck, archive, train private. tests/link/check_layout.sh
// checks that it links neither libfuse nor libsystemd, and runs it.
#include <cstdio>
#include <string>

#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace pmklc::cli;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s compress|decompress|stat|fsck|archive ARG\n", argv[0]);
    return 2;
  }
  const std::string cmd = argv[1];
  CompressArgs ca;
  ca.inputs = {argv[2]};
  if (cmd == "compress") return RunCompressFiles(ca);
  if (cmd == "decompress") return RunDecompressFiles(ca);
  if (cmd == "stat") return RunStat(argv[2], false);
  if (cmd == "fsck") return RunFsck(argv[2], 1);
  if (cmd == "archive") {
    ArchiveArgs aa;
    aa.store = argv[2];
    return RunArchive(aa);
  }
  if (cmd == "train-private") return RunTrainPrivate({argv[2]});
  return 2;
}
