// store_models.h — the static models kept in a store (column family
// `models`, docs/store.md §Models): the private model (SPrM) that `pmklc
// train private` installs and the neural archive profile mixes in.
//
// Lifetime: models are never deleted, so any archived group that names one
// by id stays decodable; a new private model only becomes the one offered to
// groups recoded afterwards (meta "sprm": its id, 16 hex digits).
// Thread safety: the functions take the store's own locking; the decoder
// registry (engine/models/toknet_model.h) is thread-safe.
#pragma once

#include <memory>
#include <string_view>

#include "engine/models/toknet_model.h"
#include "store/store.h"

namespace pmklc {

// Registers every stored model with the decoders of this process and
// returns the current private model (nullptr if none). Corruption if a
// stored model is damaged or the current one is missing; every sound model
// is registered all the same, and *current_out (if given) gets the current
// private model when it loaded.
Result<std::shared_ptr<const TokNetModel>> LoadStoreModels(Store* store,
                                                           std::shared_ptr<const TokNetModel>* current_out = nullptr);

// Validates a model file, stores it and makes it the current private model
// (one atomic batch), and registers it. InvalidArgument for a bad file.
Result<std::shared_ptr<const TokNetModel>> InstallPrivateModel(Store* store, std::string_view model_file);

}  // namespace pmklc
