#pragma once

#include <string>
#include <vector>

#include "store/leases.hpp"

namespace gw::cluster {

/// What a node does with the leases it holds after a round.
struct OwnershipPlan {
  std::vector<store::HeldLease> keep;     ///< go on polling these (sorted by device id)
  std::vector<store::HeldLease> release;  ///< stop their workers, then give the leases back
};

/// Splits `held` into the leases to keep and those to release: readers no longer configured
/// are released, then, above `share`, the excess (a stable choice: the readers whose
/// hash(device id, node id) is highest, so repeated rounds release the same ones). Pure.
OwnershipPlan PlanOwnership(const std::vector<store::HeldLease>& held,
                            const std::vector<std::string>& configured, int share,
                            const std::string& node_id);

}  // namespace gw::cluster
