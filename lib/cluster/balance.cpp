#include "cluster/balance.hpp"

#include <algorithm>
#include <functional>
#include <set>

namespace gw::cluster {

OwnershipPlan PlanOwnership(const std::vector<store::HeldLease>& held,
                            const std::vector<std::string>& configured, int share,
                            const std::string& node_id) {
  std::set<std::string> wanted(configured.begin(), configured.end());
  OwnershipPlan plan;
  std::vector<std::pair<std::size_t, store::HeldLease>> candidates;
  for (const auto& h : held) {
    if (!wanted.count(h.device_id)) {
      plan.release.push_back(h);
    } else {
      candidates.emplace_back(std::hash<std::string>{}(h.device_id + '\x1f' + node_id), h);
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.device_id < b.second.device_id;
  });
  auto limit = static_cast<std::size_t>(std::max(0, share));
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    (i < limit ? plan.keep : plan.release).push_back(candidates[i].second);
  }
  auto by_id = [](const store::HeldLease& a, const store::HeldLease& b) {
    return a.device_id < b.device_id;
  };
  std::sort(plan.keep.begin(), plan.keep.end(), by_id);
  std::sort(plan.release.begin(), plan.release.end(), by_id);
  return plan;
}

}  // namespace gw::cluster
