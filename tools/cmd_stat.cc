// pmklc stat STORE: the store report (store/services/store_report.h). A mounted store is
// asked through its daemon's control socket; an unmounted one is opened
// read-only here.
#include <cstdio>

#include "store/services/control.h"
#include "store/services/store_report.h"
#include "store/store.h"
#include "tools/commands.h"

namespace pmklc::cli {

int RunStat(const std::string& path, bool json, bool files, bool human) {
  auto reply = ControlRequest(path, files ? "stat-files" : json ? "stat-json" : human ? "stat-h" : "stat");
  if (reply.ok()) {
    std::fputs(reply->c_str(), stdout);
    return 0;
  }
  if (!reply.status().IsNotFound()) {
    std::fprintf(stderr, "pmklc stat: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  StoreOptions o;
  o.create_if_missing = false;
  o.read_only = true;
  auto st = Store::Open(path, o);
  if (!st.ok()) {
    std::fprintf(stderr, "pmklc stat: %s\n", st.status().ToString().c_str());
    return 1;
  }
  StoreReportOptions ro;
  ro.json = json;
  ro.human = human;
  auto r = files ? StoreFileReport(**st) : StoreReport(**st, ro);
  if (!r.ok()) {
    std::fprintf(stderr, "pmklc stat: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::fputs(r->c_str(), stdout);
  return 0;
}

}  // namespace pmklc::cli
