#include "store/services/store_models.h"

#include <cinttypes>
#include <cstdio>
#include <string>

namespace pmklc {

namespace {
constexpr const char* kSprmKey = "sprm";

std::string Hex(uint64_t v) {
  char b[20];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}
}  // namespace

Result<std::shared_ptr<const TokNetModel>> LoadStoreModels(Store* store,
                                                           std::shared_ptr<const TokNetModel>* current_out) {
  std::string cur;
  uint64_t want = 0;
  if (store->GetMeta(kSprmKey, &cur).ok()) want = std::strtoull(cur.c_str(), nullptr, 16);
  std::shared_ptr<const TokNetModel> current;
  Status bad;
  PMKLC_RETURN_IF_ERROR(store->ForEachModel([&](uint64_t id, std::string_view bytes) {
    auto m = ParseModel(bytes);
    if (!m.ok() || m->id != id) {  // reported; the other models still load
      if (bad.ok())
        bad = Status::Corruption("store model " + Hex(id) + ": " + (m.ok() ? "id mismatch" : m.status().message()));
      return true;
    }
    auto p = std::make_shared<const TokNetModel>(std::move(*m));
    RegisterModel(p);
    if (id == want) current = p;
    return true;
  }));
  if (want && !current && bad.ok()) bad = Status::Corruption("the store's private model " + Hex(want) + " is missing");
  if (!bad.ok()) {
    if (current_out) *current_out = current;  // what did load is registered and usable
    return bad;
  }
  return current;
}

Result<std::shared_ptr<const TokNetModel>> InstallPrivateModel(Store* store, std::string_view model_file) {
  auto m = ParseModel(model_file);
  if (!m.ok()) return Status::InvalidArgument("not a model file: " + m.status().message());
  auto p = std::make_shared<const TokNetModel>(std::move(*m));
  Store::Batch b;
  b.PutModel(p->id, model_file);
  b.PutMeta(kSprmKey, Hex(p->id));
  PMKLC_RETURN_IF_ERROR(store->Write(b, /*sync=*/true));
  RegisterModel(p);
  return p;
}

}  // namespace pmklc
