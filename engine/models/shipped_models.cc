// The public model (SPuM) built into this binary (models/*.pmkm, embedded at
// build time so that decoding needs no file: decode anywhere).
#include <mutex>

#include "engine/models/toknet_model.h"

#if defined(PMKLC_SPUM_FILE)
asm(".section .rodata\n"
    ".balign 16\n"
    ".globl pmklc_spum_begin\n"
    "pmklc_spum_begin:\n"
    ".incbin \"" PMKLC_SPUM_FILE "\"\n"
    ".globl pmklc_spum_end\n"
    "pmklc_spum_end:\n"
    ".previous\n");
extern "C" const char pmklc_spum_begin[];
extern "C" const char pmklc_spum_end[];
#endif

namespace pmklc {

std::shared_ptr<const TokNetModel> ShippedPublicModel() {
#if defined(PMKLC_SPUM_FILE)
  static std::shared_ptr<const TokNetModel> model = [] {
    auto m = ParseModel(std::string_view(pmklc_spum_begin, pmklc_spum_end - pmklc_spum_begin));
    if (!m.ok()) return std::shared_ptr<const TokNetModel>();
    auto p = std::make_shared<const TokNetModel>(std::move(*m));
    RegisterModel(p);
    return p;
  }();
  return model;
#else
  return nullptr;
#endif
}

}  // namespace pmklc
