// Batch sizing of the slim streams (kernels/cm_slim_batch.h), in every build.
#include "kernels/cm_slim_batch.h"

namespace pmklc::kernels::cmslim {

size_t BatchBytes(const Shape& s, size_t n) {
  // state + arena (tables, history) + the bases + the output buffer (n / 2 + 1024)
  return Align64(sizeof(State<3>)) + LayoutFor(s, n).bytes + Align64(n) + Align64(n / 2 + 1024);
}


}  // namespace pmklc::kernels::cmslim

#include "kernels/cm_max_batch.h"

namespace pmklc::kernels::cmmax {

size_t MaxBatchBytes(const MaxShape& s, size_t n) {
  return Align64(sizeof(MaxModel)) + MaxLayoutFor(s, n).bytes + Align64(n) + Align64(n / 2 + 1024);
}

}  // namespace pmklc::kernels::cmmax
