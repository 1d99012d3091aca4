// container_job.h — one block being coded or decoded on its own thread by
// ContainerWriter / ContainerReader (internal to engine/container).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "engine/common/status.h"
#include "engine/models/neural_stream.h"

namespace pmklc {

struct ContainerJob {
  std::string in, out;
  std::string prime;  // writer with a reference: the codes the block is primed with
  uint64_t offset = 0;  // reader: file offset of its length field
  Status status;
  NeuralChain chain;
  std::shared_ptr<DmLink> in_link, out_link;  // kept alive with the job
  std::thread thread;
};

}  // namespace pmklc
